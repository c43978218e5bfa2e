/**
 * Tracked requests (SPEC 5): requests whose response comes back through the coordinator
 * and must be delivered to the caller's own hook, each with its own response timer.
 */
import { CoordinatorError } from './errors.js'
import type { MsgUrl, UrlForm } from './go-url.js'

/** What the coordinator remembers of a tracked request until its response or timeout. */
export interface TrackedRequest {
  readonly id: string
  readonly task: string
  /** the caller's own response hook, where the response (or the timeout) is delivered */
  readonly hook: MsgUrl
  /** the URL form the caller used, which its response is written in */
  readonly urlForm: UrlForm
  readonly startedAt: number
  /** the hook is the `/proxy` of the peer coordinator that forwarded the request: its delivery carries the peer token */
  readonly toPeer?: boolean
  /** where its response must come in: the response socket (a provider) or `/proxy` (a peer) */
  readonly answerVia: 'unix' | 'http'
}

export interface TrackerOptions {
  timeoutMs: number
  maxTracked: number
  /** called once for a request whose response did not come in time (already untracked) */
  onTimeout: (entry: TrackedRequest) => void
  /** called once for every request that leaves the tracker, whatever the reason */
  onUntrack?: (entry: TrackedRequest) => void
}

interface Entry {
  request: TrackedRequest
  timer: NodeJS.Timeout
}

/** The map of tracked requests: one timer each, one idempotent way out. */
export class Tracker {
  readonly #entries = new Map<string, Entry>()
  readonly #opts: TrackerOptions
  #emptyWaiters: Array<() => void> = []

  constructor (opts: TrackerOptions) {
    this.#opts = opts
  }

  /** Number of requests tracked now. */
  get size (): number {
    return this.#entries.size
  }

  /** Whether `id` is tracked now. */
  has (id: string): boolean {
    return this.#entries.has(id)
  }

  /** The tracked request of `id`, left tracked; undefined if none. */
  get (id: string): TrackedRequest | undefined {
    return this.#entries.get(id)?.request
  }

  /**
   * Tracks a request. A duplicate id is refused and the first request keeps its tracking
   * untouched (the original replaced it, so the first never got an answer).
   */
  track (request: TrackedRequest): void {
    if (this.#entries.has(request.id)) {
      throw new CoordinatorError('ERR_DUPLICATE_ID', 'request id already tracked')
    }
    if (this.#entries.size >= this.#opts.maxTracked) {
      throw new CoordinatorError('ERR_OVERLOADED', `too many tracked requests (limit ${this.#opts.maxTracked})`)
    }
    const timer = setTimeout(trackerOnTimeout, this.#opts.timeoutMs, this, request.id)
    timer.unref()
    this.#entries.set(request.id, { request, timer })
  }

  /** Untracks a request (its response came, or it could not be sent); undefined if not tracked. */
  settle (id: string): TrackedRequest | undefined {
    const entry = this.#entries.get(id)
    if (entry === undefined) return undefined
    this.#entries.delete(id)
    clearTimeout(entry.timer)
    this.#opts.onUntrack?.(entry.request)
    if (this.#entries.size === 0) this.#notifyEmpty()
    return entry.request
  }

  /** Resolves once no request is tracked (at once if none is). */
  whenEmpty (): Promise<void> {
    if (this.#entries.size === 0) return Promise.resolve()
    return new Promise(resolve => { this.#emptyWaiters.push(resolve) })
  }

  /** @internal timer callback: untrack, then report the timeout. */
  expire (id: string): void {
    const request = this.settle(id)
    if (request !== undefined) this.#opts.onTimeout(request)
  }

  #notifyEmpty (): void {
    const waiters = this.#emptyWaiters
    this.#emptyWaiters = []
    for (const resolve of waiters) resolve()
  }
}

// A plain function with the tracker passed as an argument: no closure per tracked request.
function trackerOnTimeout (tracker: Tracker, id: string): void {
  tracker.expire(id)
}
