/**
 * R2: an internal request on the coordinator's unix request socket, with a unix hook. A
 * frame-speaking load generator runs concurrent clients; the coordinator passes the hook
 * on untouched, so the fake provider answers the hook sink directly.
 */
import { join } from 'node:path'
import { profiled, removeDir, socketDir, startCoordinator } from '../lib/coordinator.js'
import { startFixture } from '../lib/fixture-process.js'
import { frameLoad } from '../lib/frame-load.js'
import { measureRequests } from '../lib/measure-requests.js'
import { ARGS, goUnixUrl } from '../lib/payloads.js'
import { stopAll } from '../lib/stops.js'

/** Runs R2; with `profileDir`, the coordinator runs under `--cpu-prof` writing there. */
export async function runUnixRequest ({ connections, seconds, warmupSeconds, profileDir }) {
  const dir = socketDir()
  const stops = []
  try {
    const sink = await startFixture('hook-sink', ['unix', join(dir, 'hook.sock')])
    stops.push(sink.stop)
    const provider = await startFixture('provider', [join(dir, 'Bench', '1-p.sock')])
    stops.push(provider.stop)
    const coordinator = await startCoordinator(profiled(dir, profileDir))
    stops.push(coordinator.stop)

    // The Go object form, as the original's clients write their URLs.
    const hook = goUnixUrl(sink.info.path)
    const body = id => `{"id":"${id}","task":"Bench","taskURL":null,"responseHook":${hook},"streamURL":null,"args":${ARGS}}`
    const ids = { prefix: 'r2-', next: 1 }
    const load = s => frameLoad({ path: coordinator.requestSocket, connections, seconds: s, ids, body })
    const figures = await measureRequests({ coordinator, provider, sink, load, seconds, warmupSeconds })
    return { name: 'R2', title: 'unix request, unix hook', ...figures }
  } finally {
    await stopAll(stops)
    removeDir(dir)
  }
}
