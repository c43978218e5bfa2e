/**
 * Load on a unix request socket, speaking frames: `connections` concurrent clients, each
 * doing one exchange per connection (connect, request frame, ack frame, close) in a loop
 * until the time is up. The ids are unique: `<prefix><n>`, n counting on from `ids.next`.
 */
import { exchange, frame, scanString } from './frames.js'
import { Latencies } from './latency.js'

/**
 * Runs the load for `seconds` against the socket `path`; each request's payload is made by
 * `body(id)`. Resolves with counts, ack latencies, the acked ids and the elapsed time.
 */
export function frameLoad ({ path, connections, seconds, ids, body }) {
  const acked = []
  const latencies = new Latencies()
  const refusals = {}
  const counts = { sent: 0, ok: 0, refused: 0, errors: 0 }
  let firstError = ''
  const startedAt = performance.now()
  const deadline = startedAt + seconds * 1000
  return new Promise(resolve => {
    let running = connections
    const next = () => {
      if (performance.now() >= deadline) {
        if (--running === 0) {
          resolve({
            elapsedS: (performance.now() - startedAt) / 1000,
            ...counts,
            answered: counts.ok + counts.refused,
            refusals,
            firstError,
            acked,
            latency: latencies.summary()
          })
        }
        return
      }
      const id = ids.prefix + (ids.next++)
      const sentAt = performance.now()
      counts.sent++
      exchange(path, frame(body(id)), (err, payload) => {
        if (err !== null) {
          counts.errors++
          if (firstError === '') firstError = err.message
          // A refused connection fails at once: pause so that a dead server is not spun on.
          setTimeout(next, 1)
          return
        }
        const text = payload.toString()
        const error = scanString(text, 'error')
        if (error === '') {
          counts.ok++
          latencies.add(performance.now() - sentAt)
          acked.push(scanString(text, 'id') ?? id)
        } else {
          counts.refused++
          refusals[error ?? '?'] = (refusals[error ?? '?'] ?? 0) + 1
        }
        next()
      })
    }
    for (let i = 0; i < connections; i++) next()
  })
}
