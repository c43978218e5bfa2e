/**
 * Delivery of responses to the callers' hooks (SPEC 5): a unix frame or an HTTP POST,
 * each bounded in time and retried a bounded number of times when the hook could not be
 * reached. Never throws: an undeliverable response is logged and counted.
 */
import { formatUrl, type MsgUrl, type UrlForm } from './go-url.js'
import type { Logger } from './log.js'
import { encodeResponse, type Response } from './message.js'
import { HookUnreachableError } from '../http/errors.js'
import type { HookClient } from '../http/hook-client.js'
import { exchange } from '../net/unix-client.js'

export interface DeliveryOptions {
  hooks: HookClient
  log: Logger
  timeoutMs: number
  retries: number
  maxFrameBytes: number
  /** first pause before a retry; doubled for each next one */
  backoffMs?: number
  /**
   * extra headers (the federation's bearer token) for deliveries to a peer coordinator's
   * `/proxy`, and only those: never sent to the hooks clients name
   */
  peerHeaders?: Record<string, string>
}

/** Counts of what happened to deliveries, for metrics and tests. */
export interface DeliveryCounts {
  delivered: number
  undeliverable: number
  retries: number
}

// Unix hooks that are not there (yet), or whose accept queue is full, are retried, like HTTP
// hooks that refuse the connection: in each case the hook never saw the response.
const RETRYABLE_UNIX_CODES = new Set(['ERR_SOCKET_NOT_FOUND', 'ERR_CONNECTION_REFUSED', 'ERR_SOCKET_BUSY'])

/** Delivers responses; tracks deliveries in flight so that a drain can wait for them. */
export class Delivery {
  readonly counts: DeliveryCounts = { delivered: 0, undeliverable: 0, retries: 0 }
  readonly #opts: DeliveryOptions
  #inFlight = 0
  #idleWaiters: Array<() => void> = []

  constructor (opts: DeliveryOptions) {
    this.#opts = opts
  }

  /** Deliveries started and not yet finished. */
  get inFlight (): number {
    return this.#inFlight
  }

  /**
   * Delivers `response` to `hook`, written in `form`; resolves when done or given up.
   * `toPeer`: the hook is a peer coordinator's `/proxy`, which gets the peer headers.
   */
  async deliver (hook: MsgUrl, response: Response, form: UrlForm, task: string, toPeer = false): Promise<void> {
    this.#inFlight++
    try {
      const body = encodeResponse(response, form)
      const attempts = hook.scheme === 'unix'
        ? await this.#deliverUnix(hook.path, body)
        : await this.#deliverHttp(formatUrl(hook), body, response.id, task, toPeer)
      this.counts.delivered++
      this.#opts.log.debug('response delivered', { id: response.id, task, attempts })
    } catch (err) {
      // The hook client reports the attempts it spent on a hook it never reached.
      if (err instanceof HookUnreachableError) this.counts.retries += err.attempts - 1
      this.counts.undeliverable++
      this.#opts.log.error('response undeliverable', { id: response.id, task, hook: formatUrl(hook), error: err })
    } finally {
      if (--this.#inFlight === 0) this.#notifyIdle()
    }
  }

  /** Resolves once no delivery is in flight. */
  whenIdle (): Promise<void> {
    if (this.#inFlight === 0) return Promise.resolve()
    return new Promise(resolve => { this.#idleWaiters.push(resolve) })
  }

  async #deliverHttp (url: string, body: Buffer, id: string, task: string, toPeer: boolean): Promise<number> {
    const { timeoutMs, retries, backoffMs } = this.#opts
    const headers = toPeer ? this.#opts.peerHeaders : undefined
    const result = await this.#opts.hooks.post(url, body, {
      timeoutMs,
      retries,
      ...(backoffMs === undefined ? {} : { backoffMs }),
      ...(headers === undefined ? {} : { headers })
    })
    this.counts.retries += result.attempts - 1
    if (result.status < 200 || result.status > 299) {
      // The original logs the hook's answer and moves on; the response was handed over.
      this.#opts.log.warn('response hook answered with an error status', { id, task, status: result.status })
    }
    return result.attempts
  }

  async #deliverUnix (path: string, body: Buffer): Promise<number> {
    const { timeoutMs, retries, maxFrameBytes } = this.#opts
    let backoff = this.#opts.backoffMs ?? 100
    for (let attempt = 1; ; attempt++) {
      try {
        // The hook's ack is read but not judged: once it has the frame, the response is handed over.
        await exchange(path, body, { timeoutMs, maxFrameBytes })
        return attempt
      } catch (err) {
        const code = (err as { code?: string }).code ?? ''
        if (attempt >= retries || !RETRYABLE_UNIX_CODES.has(code)) throw err
      }
      this.counts.retries++
      await sleep(backoff)
      backoff *= 2
    }
  }

  #notifyIdle (): void {
    const waiters = this.#idleWaiters
    this.#idleWaiters = []
    for (const resolve of waiters) resolve()
  }
}

function sleep (ms: number): Promise<void> {
  return new Promise(resolve => { setTimeout(resolve, ms).unref() })
}
