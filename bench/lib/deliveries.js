/**
 * After a load: wait (bounded) until every response the provider was asked to send has
 * reached the hook sink, then compare the acked ids with the delivered ones.
 */
import { setTimeout as sleep } from 'node:timers/promises'

const POLL_MS = 50

/**
 * Polls until the sink has as many deliveries as the provider acked requests, or until
 * `timeoutMs`; resolves with both counts and the time waited.
 */
export async function settleDeliveries (sink, provider, timeoutMs) {
  const startedAt = performance.now()
  for (;;) {
    const [sunk, provided] = await Promise.all([sink.query('counts'), provider.query('counts')])
    const waitedMs = performance.now() - startedAt
    if (sunk.delivered >= provided.acked || waitedMs >= timeoutMs) {
      return { sink: sunk, provider: provided, waitedMs, settled: sunk.delivered >= provided.acked }
    }
    await sleep(POLL_MS)
  }
}

/** The ids in `acked` that `delivered` (an array of ids) does not hold. */
export function missingIds (acked, delivered) {
  const seen = new Set(delivered)
  return acked.filter(id => !seen.has(id))
}
