/**
 * Soak: a long run of requests at steady load through a fresh coordinator process (the built
 * CLI), to show that nothing grows and nothing is lost. Each request is the fullest path: an
 * HTTP request with an HTTP hook, tracked, dispatched to the fake provider, answered on the
 * response socket, delivered to the hook sink.
 *
 *   npm run build && node bench/soak.js [--requests 1000000] [--rate 600] [--connections 32]
 *                                       [--warmup 20000] [--samples 10] [--max_tracked N]
 *
 * (`SOAK_REQUESTS` sets the count too.) `--rate` is the steady load in requests per second
 * over all connections; `--rate 0` posts as fast as acks come back, which overloads the
 * coordinator: an ack returns before the response has come back, so responses fall behind
 * without bound unless `--max_tracked` turns the excess away. The coordinator runs with gc
 * exposed and a small
 * probe loaded: on SIGUSR2 it collects garbage twice and appends its memory to a file, so
 * the heap figures are live objects only. Heap and RSS are read when idle after the
 * warm-up (start) and when idle after the last delivery (end), and under load in between.
 * Exit status 1 when a response is lost, duplicated or replaced by an error.
 */
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import autocannon from 'autocannon'
import { removeDir, socketDir, startCoordinator } from './lib/coordinator.js'
import { startFixture } from './lib/fixture-process.js'
import { int, mib, table } from './lib/format.js'
import { ARGS } from './lib/payloads.js'
import { cpuSeconds, memory } from './lib/proc.js'
import { stopAll } from './lib/stops.js'

const { values: opts } = parseArgs({
  options: {
    requests: { type: 'string', default: process.env.SOAK_REQUESTS ?? '1000000' },
    rate: { type: 'string', default: '600' },
    max_tracked: { type: 'string', default: '100000' },
    connections: { type: 'string', default: '32' },
    warmup: { type: 'string', default: '20000' },
    samples: { type: 'string', default: '10' }
  }
})
const REQUESTS = positive('requests')
const CONNECTIONS = positive('connections')
const WARMUP = positive('warmup')
const SAMPLES = positive('samples')
const RATE = positive('rate', true)
const MAX_TRACKED = positive('max_tracked')
// Heap growth from start to end that counts as noise (allocator and JIT state, pools).
const NOISE_BYTES = 4 * 1024 * 1024
const SETTLE_TIMEOUT_MS = 60_000

function positive (name, zeroAllowed = false) {
  const n = Number(opts[name])
  if (!Number.isInteger(n) || n < (zeroAllowed ? 0 : 1)) {
    console.error(`soak: --${name} must be a ${zeroAllowed ? 'non-negative' : 'positive'} integer, not ${JSON.stringify(opts[name])}`)
    process.exit(2)
  }
  return n
}

// Loaded into the coordinator: SIGUSR2 appends `{heapUsed, rss}` after two full collections.
const probeDir = mkdtempSync(join(tmpdir(), 'soak-'))
const probeFile = join(probeDir, 'memory.jsonl')
process.on('exit', () => { rmSync(probeDir, { recursive: true, force: true }) })
appendFileSync(probeFile, '')
const PROBE = 'data:text/javascript,' + encodeURIComponent(
  `import { appendFileSync } from 'node:fs'
  process.on('SIGUSR2', () => {
    gc(); gc()
    const m = process.memoryUsage()
    appendFileSync(${JSON.stringify(probeFile)}, JSON.stringify({ heapUsed: m.heapUsed, rss: m.rss }) + '\\n')
  })`
)

/** The coordinator's memory after gc, through the probe. */
async function probe (pid) {
  const before = readFileSync(probeFile, 'utf8').split('\n').filter(Boolean).length
  process.kill(pid, 'SIGUSR2')
  for (let waited = 0; waited < 10_000; waited += 20) {
    const lines = readFileSync(probeFile, 'utf8').split('\n').filter(Boolean)
    if (lines.length > before) return JSON.parse(lines[lines.length - 1])
    await sleep(20)
  }
  throw new Error('the memory probe did not answer')
}

/** Posts `amount` requests on `connections` keep-alive connections; counts acks without error. */
function load (url, amount, ids, body, onProgress) {
  return new Promise((resolve, reject) => {
    let acked = 0
    let refused = 0
    const instance = autocannon({
      url,
      connections: CONNECTIONS,
      amount,
      ...(RATE > 0 ? { overallRate: RATE } : {}),
      timeout: 10,
      requests: [{
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        setupRequest (request) {
          request.body = body(ids.prefix + (ids.next++))
          return request
        },
        onResponse (status, text) {
          if (status === 200 && text.startsWith('{"error":"",')) acked++
          else refused++
          onProgress?.(acked + refused)
        }
      }]
    }, (err, result) => {
      if (err) reject(err)
      else resolve({ acked, refused, errors: result.errors, timeouts: result.timeouts })
    })
    process.once('SIGINT', () => instance.stop())
  })
}

async function settle (sink, expected) {
  const started = performance.now()
  for (;;) {
    const counts = await sink.query('counts')
    if (counts.delivered >= expected || performance.now() - started > SETTLE_TIMEOUT_MS) return counts
    await sleep(100)
  }
}

async function main () {
  const dir = socketDir()
  const stops = []
  try {
    const sink = await startFixture('hook-sink', ['http'])
    stops.push(sink.stop)
    const provider = await startFixture('provider', [join(dir, 'Bench', '1-p.sock')])
    stops.push(provider.stop)
    const coordinator = await startCoordinator({ dir, nodeArgs: ['--expose-gc', '--import', PROBE], settings: { max_tracked: MAX_TRACKED } })
    stops.push(coordinator.stop)
    const pid = coordinator.pid
    const hook = `http://127.0.0.1:${sink.info.port}/hook`
    const body = id => `{"id":"${id}","task":"Bench","responseHook":"${hook}","args":${ARGS}}`
    console.log(`soak: ${int(REQUESTS)} requests (after a ${int(WARMUP)} warm-up) at ${RATE > 0 ? `${int(RATE)} req/s` : 'full speed'}, ${CONNECTIONS} connections, max_tracked ${int(MAX_TRACKED)}, coordinator pid ${pid}`)

    const fresh = await probe(pid)
    const warm = await load(coordinator.url, WARMUP, { prefix: 'w-', next: 0 }, body)
    await settle(sink, warm.acked)
    await sleep(500)
    const start = await probe(pid)
    const sinkBefore = await sink.query('counts')
    const cpuBefore = cpuSeconds(pid)

    // Under load: a sample every REQUESTS / SAMPLES answers.
    const rows = [['answered', 'elapsed', 'req/s', 'heap (after gc)', 'RSS']]
    const every = Math.max(1, Math.floor(REQUESTS / SAMPLES))
    let nextSample = every
    let sampling = Promise.resolve()
    const startedAt = performance.now()
    let lastAt = startedAt
    let lastDone = 0
    const onProgress = done => {
      if (done < nextSample) return
      nextSample += every
      const now = performance.now()
      const rate = (done - lastDone) / ((now - lastAt) / 1000)
      lastAt = now
      lastDone = done
      sampling = sampling.then(async () => {
        const m = await probe(pid)
        const row = [int(done), `${((now - startedAt) / 1000).toFixed(0)} s`, int(rate), mib(m.heapUsed), mib(memory(pid)?.rss ?? m.rss)]
        rows.push(row)
        console.log(`  ${row.join('  ')}`)
      })
    }
    const run = await load(coordinator.url, REQUESTS, { prefix: 's-', next: 0 }, body, onProgress)
    const loadS = (performance.now() - startedAt) / 1000
    await sampling
    const counts = await settle(sink, sinkBefore.delivered + run.acked)
    const cpuS = cpuSeconds(pid) === null || cpuBefore === null ? null : cpuSeconds(pid) - cpuBefore
    await sleep(500)
    const end = await probe(pid)
    const providerCounts = await provider.query('counts')

    console.log(table(rows))
    const delivered = counts.delivered - sinkBefore.delivered
    const duplicates = counts.duplicates - sinkBefore.duplicates
    const withError = counts.withError - sinkBefore.withError
    const lost = run.acked - (delivered - duplicates)
    const growth = end.heapUsed - start.heapUsed
    console.log('')
    console.log(table([
      ['memory', 'heap (after gc)', 'RSS'],
      ['fresh', mib(fresh.heapUsed), mib(fresh.rss)],
      ['start (after warm-up, idle)', mib(start.heapUsed), mib(start.rss)],
      ['end (all delivered, idle)', mib(end.heapUsed), mib(end.rss)],
      ['end - start', `${(growth / 1024).toFixed(0)} KiB`, `${((end.rss - start.rss) / 1024 / 1024).toFixed(1)} MiB`]
    ]))
    console.log('')
    console.log(`requests ${int(REQUESTS)} in ${loadS.toFixed(0)} s (${int(REQUESTS / loadS)} req/s): acked ${int(run.acked)}, refused ${int(run.refused)}, client errors ${int(run.errors)}, timeouts ${int(run.timeouts)}`)
    console.log(`delivered ${int(delivered)}, duplicates ${int(duplicates)}, errors delivered ${int(withError)}, lost ${int(lost)}; provider acked ${int(providerCounts.acked)}, response errors ${int(providerCounts.responseErrors)}${providerCounts.lastResponseError === '' ? '' : ` (last: ${providerCounts.lastResponseError})`}, backlog retries ${int(providerCounts.backlogRetries)}`)
    if (cpuS !== null) console.log(`coordinator CPU ${cpuS.toFixed(1)} s: ${(cpuS / REQUESTS * 1e6).toFixed(0)} µs per request`)
    console.log(`coordinator log: ${JSON.stringify(coordinator.levels)}${coordinator.notable.length > 0 ? `; first: ${coordinator.notable[0]}` : ''}`)
    const heapOk = growth < NOISE_BYTES
    // Refused requests (503 beyond max_tracked) were never accepted: no response is owed.
    const deliveryOk = lost === 0 && duplicates === 0 && withError === 0
    console.log(`verdict: heap ${heapOk ? 'flat' : 'GREW'} (${(growth / 1024).toFixed(0)} KiB, noise bound ${NOISE_BYTES / 1024 / 1024} MiB); responses of the acked requests ${deliveryOk ? 'all delivered once' : 'NOT all delivered once'}`)
    process.exitCode = deliveryOk ? 0 : 1
  } finally {
    await stopAll(stops)
    removeDir(dir)
  }
}

await main()
