/**
 * A timing loop for micro-benchmarks: calls `fn` in batches until `ms` have passed, reading
 * the clock once per batch so that the clock costs little next to `fn`.
 */

/** Runs `fn` for about `ms` milliseconds; returns how many calls and how long they took. */
export function measure (fn, ms, batch = 16) {
  const end = performance.now() + ms
  let ops = 0
  let now = performance.now()
  const start = now
  while (now < end) {
    for (let k = 0; k < batch; k++) fn()
    ops += batch
    now = performance.now()
  }
  return { ops, seconds: (now - start) / 1000 }
}
