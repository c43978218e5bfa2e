/**
 * The coordinator's metrics (`GET /metrics`): what is counted on the request and response
 * paths, and what is read at scrape time from the parts that already count it (tracker,
 * deliveries, streams, provider outcomes, the process).
 */
import { monitorEventLoopDelay, performance, type IntervalHistogram } from 'node:perf_hooks'
import type { DeliveryCounts } from './delivery.js'
import { MetricsRegistry, type CounterChild, type Counter, type GaugeChild, type HistogramChild } from './metrics.js'
import type { StreamStats } from './streams.js'

/** Upper bounds of the dispatch latency buckets, seconds. */
export const DISPATCH_SECONDS_BUCKETS: readonly number[] = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10
]
/** Upper bounds of the providers-tried buckets. */
export const PROVIDERS_TRIED_BUCKETS: readonly number[] = [1, 2, 3, 4, 6, 8, 16]
/** Sampling interval of the event-loop delay monitor. */
export const EVENT_LOOP_RESOLUTION_MS = 20
// Refusal reasons are error codes, a fixed set in the code; a cap keeps a bug from turning
// them into unbounded series.
const MAX_REASONS = 64
const OTHER_REASON = 'other'
const NS_PER_S = 1e9

/** The values the metrics read at scrape time. */
export interface MetricSources {
  tracked: () => number
  /** requests held back until a response slot frees (max_pending_responses) */
  waitingForSlot: () => number
  deliveries: () => DeliveryCounts & { inFlight: number }
  streams: () => StreamStats & { openSockets: number }
  providersCoolingDown: () => number
  draining: () => boolean
}

/** The external routes whose refusals for lack of a token are counted apart. */
export type GuardedRoute = 'request' | 'proxy' | 'stream' | 'tasks' | 'metrics'

interface IngressCounters {
  accepted: CounterChild
  refused: Map<string, CounterChild>
}

/** Every metric of one coordinator, with one cheap method per event of the hot paths. */
export class CoordinatorMetrics {
  readonly #registry = new MetricsRegistry()
  readonly #requests: Counter
  readonly #http: IngressCounters
  readonly #unix: IngressCounters
  readonly #dispatchSeconds: HistogramChild
  readonly #providersTried: HistogramChild
  readonly #providerFailures: CounterChild
  readonly #timedOut: CounterChild
  readonly #unmatched: CounterChild
  readonly #unauthorized: Counter
  readonly #rss: GaugeChild
  readonly #heapUsed: GaugeChild
  readonly #heapTotal: GaugeChild
  readonly #loopDelay: IntervalHistogram
  readonly #loop: { p50: GaugeChild, p99: GaugeChild, max: GaugeChild }
  #started = false

  constructor (sources: MetricSources) {
    const r = this.#registry
    this.#requests = r.counter('coordinator_requests_total',
      'Requests handled, by ingress (http, unix) and outcome (accepted, or refused with the error code as reason).')
    this.#http = ingressCounters(this.#requests, 'http')
    this.#unix = ingressCounters(this.#requests, 'unix')
    this.#unauthorized = r.counter('coordinator_http_unauthorized_total',
      'External HTTP requests refused with 401 for lack of the bearer token, by route.')
    this.#dispatchSeconds = r.histogram('coordinator_dispatch_duration_seconds',
      'Time from the first provider tried to the ack that ended the dispatch (or to the last failure).',
      DISPATCH_SECONDS_BUCKETS).child()
    this.#providersTried = r.histogram('coordinator_dispatch_providers_tried',
      'Providers tried per dispatched request.', PROVIDERS_TRIED_BUCKETS).child()
    this.#providerFailures = r.counter('coordinator_provider_failures_total',
      'Dispatches to one provider that failed: refused, closed, error ack or no ack in time.').child()
    r.sampledGauge('coordinator_providers_cooling_down',
      'Provider sockets skipped for now because their last dispatch failed.', sources.providersCoolingDown)
    r.sampledGauge('coordinator_tracked_requests', 'Requests waiting for their response now.', sources.tracked)
    r.sampledGauge('coordinator_requests_held',
      'Requests held back before dispatch because max_pending_responses responses are owed.', sources.waitingForSlot)
    r.sampledCounter('coordinator_responses_delivered_total',
      'Responses (timeouts included) handed to the caller\'s hook.', () => sources.deliveries().delivered)
    this.#timedOut = r.counter('coordinator_responses_timed_out_total',
      'Tracked requests whose response did not come within request_timeout.').child()
    r.sampledCounter('coordinator_responses_undeliverable_total',
      'Responses given up on: the hook could not be reached or failed.', () => sources.deliveries().undeliverable)
    this.#unmatched = r.counter('coordinator_responses_unmatched_total',
      'Responses for no tracked request (unknown id, late, or duplicate), dropped.').child()
    r.sampledCounter('coordinator_hook_delivery_retries_total',
      'Extra attempts made to deliver responses to hooks.', () => sources.deliveries().retries)
    r.sampledGauge('coordinator_deliveries_in_flight', 'Response deliveries in progress.', () => sources.deliveries().inFlight)
    r.sampledCounter('coordinator_stream_bytes_total', 'Bytes of proxied streams, both ways.', () => sources.streams().bytes)
    r.sampledGauge('coordinator_streams_active', 'Proxied streams being piped now.', () => sources.streams().active)
    r.sampledGauge('coordinator_stream_sockets_open', 'One-shot stream sockets open now.', () => sources.streams().openSockets)
    r.sampledCounter('coordinator_streams_refused_total',
      'Stream requests refused: address not issued or expired, or too many stream sockets.', () => sources.streams().refused)
    r.sampledCounter('coordinator_streams_failed_total',
      'Streams whose source could not be opened or that ended early.', () => sources.streams().failed)
    r.sampledGauge('coordinator_draining', '1 while the coordinator drains before stopping, else 0.', () => sources.draining() ? 1 : 0)

    this.#rss = r.gauge('coordinator_process_resident_memory_bytes', 'Resident set size of the process.').child()
    this.#heapUsed = r.gauge('coordinator_process_heap_used_bytes', 'V8 heap in use.').child()
    this.#heapTotal = r.gauge('coordinator_process_heap_total_bytes', 'V8 heap allocated.').child()
    const startSeconds = Math.floor(performance.timeOrigin / 1000)
    r.sampledGauge('coordinator_process_start_time_seconds', 'Start time of the process, Unix seconds.', () => startSeconds)
    const loop = r.gauge('coordinator_event_loop_delay_seconds',
      'Event-loop delay since the previous scrape, by quantile (1 = the longest).')
    this.#loop = { p50: loop.child({ quantile: '0.5' }), p99: loop.child({ quantile: '0.99' }), max: loop.child({ quantile: '1' }) }
    this.#loopDelay = monitorEventLoopDelay({ resolution: EVENT_LOOP_RESOLUTION_MS })
    r.beforeScrape(() => { this.#sampleProcess() })
  }

  /** Starts the event-loop delay monitor (a timer that does not keep the process alive). */
  start (): void {
    if (this.#started) return
    this.#started = true
    this.#loopDelay.enable()
  }

  /** Stops the event-loop delay monitor. */
  stop (): void {
    if (!this.#started) return
    this.#started = false
    this.#loopDelay.disable()
  }

  /** The exposition text. */
  render (): string {
    return this.#registry.render()
  }

  /** A request left the pipeline: accepted (`code` undefined) or refused with `code`. */
  requestDone (via: 'http' | 'unix', code: string | undefined): void {
    const slot = via === 'http' ? this.#http : this.#unix
    if (code === undefined) {
      slot.accepted.value++
      return
    }
    const refused = slot.refused.get(code) ?? this.#refusedChild(slot, via, code)
    refused.value++
  }

  /** A dispatch ended after `seconds`, having tried `tried` providers. */
  dispatched (seconds: number, tried: number): void {
    this.#dispatchSeconds.observe(seconds)
    this.#providersTried.observe(tried)
  }

  /** One provider failed a dispatch. */
  providerFailed (): void {
    this.#providerFailures.value++
  }

  /** A tracked request timed out. */
  responseTimedOut (): void {
    this.#timedOut.value++
  }

  /** A response matched no tracked request. */
  responseUnmatched (): void {
    this.#unmatched.value++
  }

  /** The counter of 401s of one route (made once, when the route is set up). */
  unauthorizedCounter (route: GuardedRoute): CounterChild {
    return this.#unauthorized.child({ route })
  }

  #refusedChild (slot: IngressCounters, via: string, code: string): CounterChild {
    const reason = slot.refused.size < MAX_REASONS ? code : OTHER_REASON
    let child = slot.refused.get(reason)
    if (child === undefined) {
      child = this.#requests.child({ ingress: via, outcome: 'refused', reason })
      slot.refused.set(reason, child)
    }
    return child
  }

  #sampleProcess (): void {
    const mem = process.memoryUsage()
    this.#rss.set(mem.rss)
    this.#heapUsed.set(mem.heapUsed)
    this.#heapTotal.set(mem.heapTotal)
    const h = this.#loopDelay
    if (h.count === 0) {
      this.#loop.p50.set(0)
      this.#loop.p99.set(0)
      this.#loop.max.set(0)
      return
    }
    // The monitor records the time between its ticks; the delay is what exceeds the interval.
    const over = (ns: number): number => Math.max(0, ns - EVENT_LOOP_RESOLUTION_MS * 1e6) / NS_PER_S
    this.#loop.p50.set(over(h.percentile(50)))
    this.#loop.p99.set(over(h.percentile(99)))
    this.#loop.max.set(over(h.max))
    h.reset()
  }
}

function ingressCounters (requests: Counter, via: 'http' | 'unix'): IngressCounters {
  return { accepted: requests.child({ ingress: via, outcome: 'accepted' }), refused: new Map() }
}
