/**
 * Latency samples in milliseconds (fractions kept) and their percentiles.
 */

/** Collects samples; `summary()` gives count, p50, p99 and max in ms. */
export class Latencies {
  #samples = []

  /** Adds one sample, in ms. */
  add (ms) {
    this.#samples.push(ms)
  }

  /** Number of samples so far. */
  get count () {
    return this.#samples.length
  }

  /** `{ count, p50, p99, max }` in ms (nearest-rank percentiles); nulls when empty. */
  summary () {
    const sorted = Float64Array.from(this.#samples).sort()
    const n = sorted.length
    if (n === 0) return { count: 0, p50: null, p99: null, max: null }
    const rank = p => sorted[Math.min(n - 1, Math.ceil(p * n) - 1)]
    return { count: n, p50: rank(0.5), p99: rank(0.99), max: sorted[n - 1] }
  }
}
