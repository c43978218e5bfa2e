/**
 * B0: the ceiling. The same autocannon load as R1 against a bare node:http server (its own
 * process) that parses the JSON body and answers an ack.
 */
import { startFixture } from '../lib/fixture-process.js'
import { httpLoad } from '../lib/http-load.js'
import { ARGS } from '../lib/payloads.js'
import { cpuWindow, machineWindow, memory } from '../lib/proc.js'

/** Runs B0. */
export async function runBareAck ({ connections, seconds, warmupSeconds }) {
  const server = await startFixture('bare-ack')
  try {
    const body = id => `{"id":"${id}","task":"Bench","responseHook":"http://127.0.0.1:1/hook","args":${ARGS}}`
    const ids = { prefix: 'b0-', next: 1 }
    const load = { url: `http://127.0.0.1:${server.info.port}/`, connections, ids, body }
    const warm = warmupSeconds > 0 ? await httpLoad({ ...load, seconds: warmupSeconds }) : { acked: [] }
    const cpu = cpuWindow(server.pid)
    const machine = machineWindow({ server: server.pid, load: process.pid })
    const run = await httpLoad({ ...load, seconds })
    const cpuSeconds = cpu.stop()
    const machineUse = machine.stop()
    const mem = memory(server.pid)
    const handled = run.ok + run.refused
    return {
      name: 'B0',
      title: 'bare node:http ack (ceiling)',
      unit: 'req/s',
      rate: run.ok / run.elapsedS,
      ack: run.latency,
      acked: warm.acked.length + run.acked.length,
      delivered: null,
      lost: null,
      refused: run.refused,
      refusals: run.refusals,
      errors: run.errors + run.timeouts,
      handled,
      cpuSeconds,
      cpuPerOpUs: cpuSeconds === null || handled === 0 ? null : cpuSeconds / handled * 1e6,
      peakRss: mem?.hwm ?? null,
      machine: machineUse
    }
  } finally {
    await server.stop()
  }
}
