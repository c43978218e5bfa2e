/**
 * The measured part of a request scenario (R1, R2): warm-up, then a load window on the
 * coordinator's CPU, a bounded wait for every response to reach the hook, and the
 * comparison of acked and delivered ids.
 */
import { missingIds, settleDeliveries } from './deliveries.js'
import { cpuWindow, machineWindow, memory } from './proc.js'

const SETTLE_TIMEOUT_MS = 15_000

/**
 * Runs `load(seconds)` (resolving with the load generator's result) for the warm-up and the
 * measured window against a started coordinator, provider and hook sink; resolves with the
 * scenario's figures. The coordinator is stopped at the end (its exit is a figure too).
 */
export async function measureRequests ({ coordinator, provider, sink, load, seconds, warmupSeconds }) {
  const warm = warmupSeconds > 0 ? await load(warmupSeconds) : { acked: [] }
  const before = await provider.query('counts')
  const cpu = cpuWindow(coordinator.pid)
  const machine = machineWindow({ coordinator: coordinator.pid, provider: provider.pid, sink: sink.pid, load: process.pid })
  const run = await load(seconds)
  const settled = await settleDeliveries(sink, provider, SETTLE_TIMEOUT_MS)
  const cpuSeconds = cpu.stop()
  const machineUse = machine.stop()
  const mem = memory(coordinator.pid)
  const delivered = await sink.query('ids')
  const acked = warm.acked.concat(run.acked)
  const lost = missingIds(acked, delivered)
  // Every request the provider acked in the window, and the ones refused before it.
  const handled = settled.provider.acked - before.acked + run.refused
  return {
    unit: 'req/s',
    rate: run.ok / run.elapsedS,
    ack: run.latency,
    acked: acked.length,
    delivered: settled.sink.delivered,
    lost: lost.length,
    lostSample: lost.slice(0, 5),
    duplicates: settled.sink.duplicates,
    deliveredWithError: settled.sink.withError,
    firstDeliveredError: settled.sink.firstError,
    refused: run.refused,
    refusals: run.refusals,
    errors: run.errors + (run.timeouts ?? 0),
    firstClientError: run.firstError ?? '',
    providerResponseErrors: settled.provider.responseErrors,
    providerLastResponseError: settled.provider.lastResponseError,
    providerBacklogRetries: settled.provider.backlogRetries,
    settleMs: settled.waitedMs,
    handled,
    cpuSeconds,
    cpuPerOpUs: cpuSeconds === null || handled === 0 ? null : cpuSeconds / handled * 1e6,
    peakRss: mem?.hwm ?? null,
    machine: machineUse,
    readyMs: coordinator.readyMs,
    logLevels: coordinator.levels,
    logNotable: coordinator.notable,
    exit: await coordinator.stop()
  }
}
