// Operating hot path: what each request adds for metrics and load sharing (outcome count,
// dispatch histogram, provider order), and the cost of one /metrics scrape.
// Run after `npm run build`: node bench/metrics.js
import { CoordinatorMetrics } from '../dist/core/coordinator-metrics.js'
import { ProviderHealth } from '../dist/core/provider-health.js'
import { measure } from './lib/measure.js'

const RUN_MS = 400
const WARMUP_MS = 100

function bench (name, fn) {
  measure(fn, WARMUP_MS, 64)
  const { ops, seconds } = measure(fn, RUN_MS, 64)
  const perSec = ops / seconds
  console.log(`${name.padEnd(46)} ${perSec.toFixed(0).padStart(11)} ops/s ${(1e9 / perSec).toFixed(0).padStart(7)} ns/op`)
}

const counts = { delivered: 0, undeliverable: 0, retries: 0, inFlight: 0 }
const stats = { bytes: 0, active: 0, refused: 0, failed: 0, evicted: 0, openSockets: 0 }
const health = new ProviderHealth({ cooldownMs: 2000 })
const metrics = new CoordinatorMetrics({
  tracked: () => 0,
  deliveries: () => counts,
  streams: () => stats,
  providersCoolingDown: () => health.coolingCount(),
  draining: () => false
})

const one = ['/run/cerana/CPUInfo/10-a.sock']
const shared = ['/run/cerana/CPUInfo/10-a.sock', '/run/cerana/CPUInfo/10-b.sock', '/run/cerana/CPUInfo/20-c.sock']
const cooling = ['/run/cerana/Disk/10-a.sock', '/run/cerana/Disk/10-b.sock', '/run/cerana/Disk/20-c.sock']
health.failed('Disk', cooling[1], 'busy')

let i = 0
bench('requestDone accepted', () => { metrics.requestDone('http', undefined) })
bench('requestDone refused (code)', () => { metrics.requestDone('unix', 'ERR_NO_PROVIDERS') })
bench('dispatched (histogram x2)', () => { metrics.dispatched((i++ % 1000) / 1e5, 1) })
bench('order: one provider', () => { health.order('One', one) })
bench('order: 2+1 providers, rotation', () => { health.order('CPUInfo', shared) })
bench('order: 2+1 providers, one cooling down', () => { health.order('Disk', cooling) })
bench('succeeded (record outcome)', () => { health.succeeded('CPUInfo', shared[0]) })
metrics.start()
bench('/metrics render (whole exposition)', () => { metrics.render() })
metrics.stop()
console.log(`exposition size: ${Buffer.byteLength(metrics.render())} B`)
