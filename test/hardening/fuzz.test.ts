/**
 * Seeded fuzzing of the frame decoder and the message decoders with mutated wire samples
 * and random bytes. Defaults keep it to a few seconds; more with the environment:
 *
 *   FUZZ_SEED=<n>     the seed (default: random, printed)
 *   FUZZ_COUNT=<n>    inputs to run (default 30000; e.g. 200000)
 *   FUZZ_INDEX=<n>    run only input n of the seed (to replay a failure)
 */
import t from 'tap'
import { randomInt } from 'node:crypto'
import { Worker } from 'node:worker_threads'
import type { FuzzJob, FuzzReport } from '../fixtures/fuzz-worker.js'

const DEFAULT_COUNT = 30_000
// No progress for this long means an input never returned.
const HANG_MS = 10_000
// An input slower than this is super-linear somewhere (the largest inputs are ~20 kB).
const SLOW_INPUT_MS = 1_000

function envInt (name: string): number | undefined {
  const v = process.env[name]
  if (v === undefined || v === '') return undefined
  if (!/^\d+$/.test(v)) throw new Error(`${name} must be a non-negative integer, not ${JSON.stringify(v)}`)
  return Number(v)
}

function runWorker (job: Omit<FuzzJob, 'progress'>): Promise<{ report?: FuzzReport, hungAt?: number, error?: Error }> {
  const progress = new SharedArrayBuffer(4)
  const view = new Int32Array(progress)
  Atomics.store(view, 0, job.from)
  const worker = new Worker(new URL('../fixtures/fuzz-worker.ts', import.meta.url), { workerData: { ...job, progress } })
  return new Promise(resolve => {
    let last = -1
    let still = 0
    const watchdog = setInterval(() => {
      const now = Atomics.load(view, 0)
      still = now === last ? still + 1 : 0
      last = now
      if (still * 1000 >= HANG_MS) {
        clearInterval(watchdog)
        void worker.terminate()
        resolve({ hungAt: now })
      }
    }, 1000)
    worker.once('message', (report: FuzzReport) => {
      clearInterval(watchdog)
      void worker.terminate()
      resolve({ report })
    })
    worker.once('error', error => {
      clearInterval(watchdog)
      resolve({ error })
    })
  })
}

t.test('decoders answer every input with a valid message or a coded error, in bounded time', async t => {
  const seed = envInt('FUZZ_SEED') ?? randomInt(2 ** 31)
  const only = envInt('FUZZ_INDEX')
  const count = only === undefined ? (envInt('FUZZ_COUNT') ?? DEFAULT_COUNT) : 1
  const from = only ?? 0
  t.comment(`fuzz: FUZZ_SEED=${seed} FUZZ_COUNT=${count}${only === undefined ? '' : ` FUZZ_INDEX=${only}`}`)
  const started = Date.now()
  const { report, hungAt, error } = await runWorker({ seed, from, count })
  const seconds = (Date.now() - started) / 1000
  t.equal(error, undefined, 'the worker did not crash')
  t.equal(hungAt, undefined, `no input hangs (replay: FUZZ_SEED=${seed} FUZZ_INDEX=${hungAt ?? '-'})`)
  if (report === undefined) return
  t.comment(`fuzz: ${count} inputs in ${seconds.toFixed(1)} s, ${report.frames} frames decoded; accepted ${JSON.stringify(report.accepted)}`)
  t.comment(`fuzz: refused ${JSON.stringify(report.refused)}`)
  t.comment(`fuzz: slowest input ${report.slowestMs.toFixed(1)} ms (index ${report.slowestIndex})`)
  for (const f of report.failures) t.comment(`replay: FUZZ_SEED=${seed} FUZZ_INDEX=${f.index} (${f.target}): ${f.message}\n  input ${f.input}`)
  t.same(report.failures, [], 'every input: a valid message or a coded 4xx error')
  t.ok(report.slowestMs < SLOW_INPUT_MS, `slowest input ${report.slowestMs.toFixed(1)} ms < ${SLOW_INPUT_MS} ms`)
  if (only === undefined) {
    // A fuzzer that only ever produced garbage would prove nothing about the accepting paths.
    t.ok((report.accepted.request ?? 0) > count / 100, 'some mutated requests still decode')
    t.ok((report.accepted.response ?? 0) > count / 100, 'some mutated responses still decode')
    t.ok(report.frames > count / 20, 'frames are delivered')
  }
})
