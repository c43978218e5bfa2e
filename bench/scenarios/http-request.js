/**
 * R1: an HTTP request with an HTTP hook, through a fresh coordinator process. autocannon
 * posts requests with unique ids; the coordinator acks after the fake provider acked, the
 * provider answers on the response socket, and the coordinator delivers to the hook sink.
 */
import { join } from 'node:path'
import { profiled, removeDir, socketDir, startCoordinator } from '../lib/coordinator.js'
import { startFixture } from '../lib/fixture-process.js'
import { httpLoad } from '../lib/http-load.js'
import { measureRequests } from '../lib/measure-requests.js'
import { ARGS } from '../lib/payloads.js'
import { stopAll } from '../lib/stops.js'

/** Runs R1; with `profileDir`, the coordinator runs under `--cpu-prof` writing there. */
export async function runHttpRequest ({ connections, seconds, warmupSeconds, profileDir }) {
  const dir = socketDir()
  const stops = []
  try {
    const sink = await startFixture('hook-sink', ['http'])
    stops.push(sink.stop)
    const provider = await startFixture('provider', [join(dir, 'Bench', '1-p.sock')])
    stops.push(provider.stop)
    const coordinator = await startCoordinator(profiled(dir, profileDir))
    stops.push(coordinator.stop)

    const hook = `http://127.0.0.1:${sink.info.port}/hook`
    const body = id => `{"id":"${id}","task":"Bench","responseHook":"${hook}","args":${ARGS}}`
    const ids = { prefix: 'r1-', next: 1 }
    const load = s => httpLoad({ url: coordinator.url, connections, seconds: s, ids, body })
    const figures = await measureRequests({ coordinator, provider, sink, load, seconds, warmupSeconds })
    return { name: 'R1', title: 'HTTP request, HTTP hook', ...figures }
  } finally {
    await stopAll(stops)
    removeDir(dir)
  }
}
