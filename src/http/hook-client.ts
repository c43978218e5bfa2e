/**
 * Delivers JSON payloads to http(s) response hooks (or remote coordinators): keep-alive
 * connections (`http:` on our own HTTP/1.1 client, `https:` on node's agent, where TLS
 * dominates the cost), a deadline per attempt, and bounded retries.
 *
 * Retry rule: an attempt is retried only when the hook did not answer because the
 * connection failed (refused, reset or hung up before any reply byte, typically a pooled
 * socket the hook closed as we reused it) or because no connected socket was ever had
 * (connect or pool wait timed out). A timeout on a connected socket is NOT retried: the hook
 * may have received and acted on the request, and a retry could deliver it twice. Nothing
 * is retried once a reply byte arrived (on https: once the status line arrived); a non-2xx
 * status is a result, not an error.
 */
import { setMaxListeners } from 'node:events'
import http from 'node:http'
import type { Agent as HttpsAgent, RequestOptions as HttpsRequestOptions } from 'node:https'
import type { Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { HookFailedError, HookTimeoutError, HookUnreachableError } from './errors.js'
import { Http1Client, type Http1Target } from './http1-client.js'
import { isConnectError, RetryableFailure } from './retryable.js'

/** Options of one delivery. */
export interface PostOptions {
  /** per attempt, the whole exchange: connect to the end of the reply body */
  timeoutMs: number
  /** attempts in all (>= 1); only failures to reach the hook are retried */
  retries: number
  /** first backoff, doubled after each failed attempt (default 100) */
  backoffMs?: number
  /**
   * extra request headers; Content-Type and Content-Length are always ours, and Host or
   * Transfer-Encoding (which would change the target or the framing) is an invalid request
   */
  headers?: Record<string, string>
  /** reply body kept up to this many bytes (default 64 KiB); the rest is read and dropped */
  maxReplyBytes?: number
}

/** The hook's answer: any status, 2xx or not, is a result, not an error. */
export interface PostResult {
  status: number
  body: Buffer
  attempts: number
}

/** Options of a HookClient. */
export interface HookClientOptions {
  /** sockets per origin and protocol (default 256) */
  maxSockets?: number
  /** how long an idle keep-alive socket is kept (default 4000; below node's 5 s server default) */
  keepAliveMs?: number
}

const MAX_SOCKETS = 256
const KEEP_ALIVE_MS = 4000
const BACKOFF_MS = 100
const MAX_REPLY_BYTES = 64 * 1024

const HTTP_PORT = 80
const MAX_CACHED_TARGETS = 256
// tchar (RFC 9110 5.6.2), and what node accepts in a value: no control byte but HTAB.
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/

interface Reply { status: number, body: Buffer }

/** Posts JSON to hooks over pooled keep-alive connections. */
export class HookClient {
  readonly #http: Http1Client
  // node:https brings tls and crypto: loaded with the first https: hook, not at start-up.
  #https: HttpsAgent | undefined
  readonly #maxSockets: number
  readonly #keepAliveMs: number
  readonly #targets = new Map<string, Http1Target>()
  readonly #closing = new AbortController()
  #closed = false

  constructor (opts: HookClientOptions = {}) {
    const maxSockets = opts.maxSockets ?? MAX_SOCKETS
    const keepAliveMs = opts.keepAliveMs ?? KEEP_ALIVE_MS
    // Every post in backoff listens on this one signal: thousands may wait at once.
    setMaxListeners(0, this.#closing.signal)
    this.#http = new Http1Client({ maxSockets, keepAliveMs })
    this.#maxSockets = maxSockets
    this.#keepAliveMs = keepAliveMs
  }

  /** POSTs body as application/json to url (http: or https:), with keep-alive agents. */
  async post (hookUrl: string, body: Buffer, opts: PostOptions): Promise<PostResult> {
    if (this.#closed) throw new HookFailedError('client closed')
    const headerLines = requestHeaderLines(opts.headers)
    const target = this.#targets.get(hookUrl) ?? this.#parseUrl(hookUrl)
    let reqOpts: HttpsRequestOptions | undefined
    if (target instanceof URL) {
      const headers: http.OutgoingHttpHeaders = {}
      for (const name in opts.headers) {
        const lower = name.toLowerCase()
        if (lower !== 'content-type' && lower !== 'content-length') headers[name] = opts.headers[name]
      }
      headers['content-type'] = 'application/json'
      headers['content-length'] = body.length
      reqOpts = {
        method: 'POST',
        // an https agent makes http.request speak TLS (https.request only adds a default agent)
        protocol: 'https:',
        hostname: bareHostname(target),
        port: target.port,
        path: target.pathname + target.search,
        headers,
        agent: this.#https ?? await this.#httpsAgent()
      }
    }
    const maxReply = opts.maxReplyBytes ?? MAX_REPLY_BYTES
    const attempts = opts.retries >= 1 ? Math.floor(opts.retries) : 1
    let backoff = opts.backoffMs ?? BACKOFF_MS

    for (let attempt = 1; ; attempt++) {
      try {
        const reply = reqOpts === undefined
          ? await this.#http.post(target as Http1Target, headerLines, body, opts.timeoutMs, maxReply)
          : await attemptHttps(reqOpts, body, opts.timeoutMs, maxReply)
        return { status: reply.status, body: reply.body, attempts: attempt }
      } catch (err) {
        if (!(err instanceof RetryableFailure)) throw err
        if (this.#closed) throw new HookFailedError('client closed', err.cause)
        if (attempt >= attempts) throw new HookUnreachableError(attempt, err.cause)
        try {
          await sleep(backoff, undefined, { ref: false, signal: this.#closing.signal })
        } catch {
          throw new HookFailedError('client closed', err.cause)
        }
        backoff *= 2
      }
    }
  }

  async #httpsAgent (): Promise<HttpsAgent> {
    const https = await import('node:https')
    if (this.#closed) throw new HookFailedError('client closed')
    this.#https ??= new https.Agent({
      keepAlive: true,
      maxSockets: this.#maxSockets,
      // The agent's socket timeout destroys sockets idle in its free list; sockets in use
      // are bounded by our own per-attempt timer instead.
      timeout: this.#keepAliveMs,
      scheduling: 'lifo',
      noDelay: true
    })
    return this.#https
  }

  // An http: URL becomes a cached target (callers post to the same hooks over and over);
  // an https: URL stays a URL.
  #parseUrl (hookUrl: string): Http1Target | URL {
    let url: URL
    try {
      url = new URL(hookUrl)
    } catch (err) {
      throw new HookFailedError(`invalid URL ${JSON.stringify(hookUrl)}`, err)
    }
    if (url.protocol === 'https:') return url
    if (url.protocol !== 'http:') throw new HookFailedError(`unsupported scheme ${url.protocol}`)
    const target: Http1Target = {
      host: url.host,
      hostname: bareHostname(url),
      port: url.port === '' ? HTTP_PORT : Number(url.port),
      path: url.pathname + url.search
    }
    // Bounded: hooks named per request would otherwise grow it without end.
    if (this.#targets.size >= MAX_CACHED_TARGETS) this.#targets.clear()
    this.#targets.set(hookUrl, target)
    return target
  }

  /** Destroys every pooled socket; pending posts fail with `ERR_HOOK_FAILED`. */
  close (): void {
    if (this.#closed) return
    this.#closed = true
    this.#closing.abort()
    this.#http.close()
    this.#https?.destroy()
  }
}

/**
 * The extra headers as `Name: value\r\n` lines, checked as node checks them; our own
 * Content-Type and Content-Length replace the caller's.
 */
function requestHeaderLines (headers: Record<string, string> | undefined): string {
  if (headers === undefined) return ''
  let lines = ''
  for (const name in headers) {
    const value = headers[name] as string
    const lower = name.toLowerCase()
    if (!HEADER_NAME.test(name) || typeof value !== 'string' || !HEADER_VALUE.test(value) ||
        lower === 'host' || lower === 'transfer-encoding') {
      throw new HookFailedError('invalid request', new TypeError(`header ${JSON.stringify(name)} is invalid or not allowed`))
    }
    if (lower !== 'content-type' && lower !== 'content-length') lines += `${name}: ${value}\r\n`
  }
  return lines
}

// A URL's hostname as connect() wants it: an IPv6 address without its brackets.
function bareHostname (url: URL): string {
  const hostname = url.hostname
  return hostname.startsWith('[') ? hostname.slice(1, -1) : hostname
}

/**
 * One https attempt on node's agent. Resolves with the reply; rejects with a
 * RetryableFailure when the hook was not reached or hung up before answering, else with a
 * coded HttpError.
 */
function attemptHttps (
  reqOpts: HttpsRequestOptions,
  body: Buffer,
  timeoutMs: number,
  maxReply: number
): Promise<Reply> {
  return new Promise<Reply>((resolve, reject) => {
    let done = false
    let connected = false
    let answered = false
    let socket: Socket | undefined

    let req: http.ClientRequest
    try {
      req = http.request(reqOpts)
    } catch (err) {
      // Invalid header names or values are refused synchronously.
      reject(new HookFailedError('invalid request', err))
      return
    }
    const timer = setTimeout(timerOnTimeout, timeoutMs)
    timer.unref()
    req.on('socket', reqOnSocket)
    req.on('response', reqOnResponse)
    req.on('error', reqOnError)
    req.end(body)

    function settle (err: unknown, reply?: Reply): void {
      if (done) return
      done = true
      clearTimeout(timer)
      if (socket !== undefined) socket.off('connect', socketOnConnect)
      if (err !== undefined) reject(err)
      else resolve(reply as Reply)
    }

    function reqOnSocket (s: Socket): void {
      socket = s
      // A pooled socket is already connected; a new one connects later.
      if (s.connecting) s.once('connect', socketOnConnect)
      else connected = true
    }

    function socketOnConnect (): void {
      connected = true
    }

    function timerOnTimeout (): void {
      const err = new HookTimeoutError(timeoutMs)
      // A hook that was connected and did not answer in time may have acted on the request:
      // retrying could deliver twice, so the timeout is final. A post that never got a
      // connected socket (connect timed out, or queued for a pooled socket) reached nobody.
      settle(connected || answered ? err : new RetryableFailure(err))
      // Settled first: a request still queued for a socket emits its 'error' only later.
      req.destroy(err)
    }

    function reqOnError (err: Error): void {
      if (answered) {
        settle(new HookFailedError('reply cut short', err))
        return
      }
      if (isConnectError(err)) settle(new RetryableFailure(err))
      else settle(new HookFailedError('request failed', err))
    }

    function reqOnResponse (res: http.IncomingMessage): void {
      answered = true
      let first: Buffer | undefined
      let chunks: Buffer[] | undefined
      let kept = 0
      res.on('data', resOnData)
      res.on('end', resOnEnd)
      res.on('error', resOnError)
      res.on('close', resOnClose)

      function resOnData (chunk: Buffer): void {
        if (kept >= maxReply) return
        if (kept + chunk.length > maxReply) chunk = chunk.subarray(0, maxReply - kept)
        kept += chunk.length
        if (first === undefined) first = chunk
        else if (chunks === undefined) chunks = [first, chunk]
        else chunks.push(chunk)
      }

      function resOnEnd (): void {
        const replyBody = chunks !== undefined ? Buffer.concat(chunks, kept) : (first ?? Buffer.alloc(0))
        settle(undefined, { status: res.statusCode ?? 0, body: replyBody })
      }

      function resOnError (err: Error): void {
        settle(new HookFailedError('reply cut short', err))
      }

      function resOnClose (): void {
        // 'close' without 'end': the connection dropped mid-reply (no-op after 'end').
        if (!res.complete) settle(new HookFailedError('reply cut short'))
      }
    }
  })
}
