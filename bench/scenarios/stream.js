/**
 * S0/S1: a 1 GiB stream read directly from its unix source (S0) and through the
 * coordinator's `/stream` (S1). The measuring logic is bench/stream.js's (the stream bench
 * of issue 6, `runStreamBench()`); this scenario only runs it within the suite.
 */
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const STREAM_BENCH = new URL('../stream.js', import.meta.url)
const GIB = 1
const ROUNDS = 2

/** Runs S0 and S1; both `{ skipped }` when bench/stream.js is not there. */
export async function runStreams () {
  const skipped = reason => ({ S0: { title: 'direct unix read', skipped: reason }, S1: { title: 'via /stream', skipped: reason } })
  if (!existsSync(fileURLToPath(STREAM_BENCH))) return skipped('bench/stream.js, the stream bench, is not there')
  const { runStreamBench } = await import(STREAM_BENCH.href)
  if (typeof runStreamBench !== 'function') return skipped('bench/stream.js exports no runStreamBench()')
  return runStreamBench({ gib: GIB, rounds: ROUNDS })
}
