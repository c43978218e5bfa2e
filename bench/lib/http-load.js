/**
 * HTTP load with autocannon (programmatic, in the runner's process): keep-alive
 * connections posting request bodies that each carry a unique id. Latencies are taken from
 * autocannon's per-response event (fractions of a ms kept), acks are read for their id.
 */
import autocannon from 'autocannon'
import { Latencies } from './latency.js'
import { scanString } from './frames.js'

/**
 * Runs `connections` connections against `url` for `seconds`, each request's body made by
 * `body(id)` with ids `<prefix><n>`, n counting on from `ids.next`. Resolves with counts,
 * latencies of 2xx answers, the ids the server acked (2xx with that id), and the elapsed time.
 */
export function httpLoad ({ url, connections, seconds, ids, body }) {
  const acked = []
  const latencies = new Latencies()
  const refusals = {}
  return new Promise((resolve, reject) => {
    const startedAt = performance.now()
    const instance = autocannon({
      url,
      connections,
      duration: seconds,
      timeout: 10,
      requests: [{
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        setupRequest (request) {
          request.body = body(ids.prefix + (ids.next++))
          return request
        },
        onResponse (status, text) {
          if (status >= 200 && status <= 299) {
            const id = scanString(text, 'id')
            if (id !== undefined && text.includes('"error":""')) acked.push(id)
          } else {
            const key = `${status} ${scanString(text, 'error') ?? ''}`.trim()
            refusals[key] = (refusals[key] ?? 0) + 1
          }
        }
      }]
    }, (err, result) => {
      if (err) { reject(err); return }
      resolve({
        elapsedS: (performance.now() - startedAt) / 1000,
        sent: result.requests.sent,
        answered: result['2xx'] + result.non2xx,
        ok: result['2xx'],
        refused: result.non2xx,
        refusals,
        errors: result.errors,
        timeouts: result.timeouts,
        acked,
        latency: latencies.summary()
      })
    })
    instance.on('response', (client, status, bytes, ms) => {
      if (status >= 200 && status <= 299) latencies.add(ms)
    })
  })
}
