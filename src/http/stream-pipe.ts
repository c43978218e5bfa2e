/**
 * Stream sources (a unix socket, or the body of an http(s) GET over keep-alive agents) and
 * their backpressured piping into a sink: an HTTP response or a unix socket. A unix source
 * into a response takes the direct way of unix-source.ts.
 */
import http from 'node:http'
import type { Agent as HttpsAgent } from 'node:https'
import type { Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { StreamSourceError } from './errors.js'
import { UNIX_READ_BYTES, openUnixSource, type UnixSource } from './unix-source.js'

/** Buffer of every stage an http(s) source's stream passes: libuv reads up to 64 KiB at once. */
export const STREAM_HIGH_WATER_MARK = 64 * 1024

/** An opened stream source: a unix socket, or the body of an http(s) GET. */
export type StreamSource = UnixSource | HttpSource

/** The body of an http(s) GET that answered 2xx. */
export interface HttpSource {
  readonly kind: 'http'
  readonly stream: Readable
  /** the byte length the source declared (http `Content-Length`), if any */
  readonly length: number | undefined
  /** the source's `Content-Type`, if any */
  readonly contentType: string | undefined
}

/** Options of a StreamSources. */
export interface StreamSourcesOptions {
  /** time for an http(s) source to connect and send its response headers */
  timeoutMs: number
  /** sockets per origin (default 256) */
  maxSockets?: number
  /** how long an idle keep-alive socket is kept (default 4000) */
  keepAliveMs?: number
  /** read buffer of each unix source: the most bytes one read takes (default UNIX_READ_BYTES) */
  unixReadBytes?: number
}

const MAX_SOCKETS = 256
const KEEP_ALIVE_MS = 4000

/** Opens stream sources; http(s) sources share keep-alive agents. */
export class StreamSources {
  readonly #timeoutMs: number
  readonly #unixReadBytes: number
  readonly #http: http.Agent
  readonly #agentOpts: http.AgentOptions
  // node:https brings tls and crypto: loaded with the first https source, not at start-up.
  #https: HttpsAgent | undefined
  #closed = false

  constructor (opts: StreamSourcesOptions) {
    this.#timeoutMs = opts.timeoutMs
    this.#unixReadBytes = opts.unixReadBytes ?? UNIX_READ_BYTES
    const agentOpts = {
      keepAlive: true,
      maxSockets: opts.maxSockets ?? MAX_SOCKETS,
      // destroys sockets idle in the free list; sockets in use are not timed (a stalled
      // reader legitimately stalls its source)
      timeout: opts.keepAliveMs ?? KEEP_ALIVE_MS,
      scheduling: 'lifo' as const,
      highWaterMark: STREAM_HIGH_WATER_MARK
    }
    this.#http = new http.Agent(agentOpts)
    this.#agentOpts = agentOpts
  }

  /** Connects to a unix socket source, nothing read yet; rejects with ERR_STREAM_SOURCE. */
  openUnix (path: string): Promise<UnixSource> {
    if (this.#closed) return Promise.reject(new StreamSourceError('not opened: closing'))
    return openUnixSource(path, this.#unixReadBytes)
  }

  /**
   * GETs an http(s) source and resolves with its body once a 2xx answer's headers are in.
   * Redirects are not followed. Rejects with ERR_STREAM_SOURCE.
   */
  openHttp (url: string, headers?: Record<string, string>): Promise<HttpSource> {
    if (this.#closed) return Promise.reject(new StreamSourceError('not opened: closing'))
    let target: URL
    try {
      target = new URL(url)
    } catch (err) {
      return Promise.reject(new StreamSourceError(`URL is invalid: ${JSON.stringify(url)}`, err))
    }
    const secure = target.protocol === 'https:'
    if (!secure && target.protocol !== 'http:') {
      return Promise.reject(new StreamSourceError(`scheme is not http or https: ${target.protocol}`))
    }
    const agent = secure ? this.#https : this.#http
    if (agent === undefined) {
      return import('node:https').then(https => {
        if (!this.#closed) this.#https ??= new https.Agent(this.#agentOpts)
        return this.openHttp(url, headers)
      })
    }
    const timeoutMs = this.#timeoutMs
    return new Promise((resolve, reject) => {
      let settled = false
      // An https.Agent makes http.request speak TLS (https.request only adds a default agent).
      const req = http.request({
        method: 'GET',
        protocol: target.protocol,
        hostname: target.hostname.startsWith('[') ? target.hostname.slice(1, -1) : target.hostname,
        port: target.port,
        path: target.pathname + target.search,
        agent,
        ...(headers === undefined ? {} : { headers })
      })
      const timer = setTimeout(function timerOnTimeout () {
        req.destroy(new StreamSourceError(`${url} sent no answer within ${timeoutMs} ms`))
      }, timeoutMs).unref()

      function settle (err: Error | undefined, source?: HttpSource): void {
        if (settled) return
        settled = true
        clearTimeout(timer)
        if (err !== undefined) reject(err)
        else resolve(source as HttpSource)
      }

      // Stays attached: an error after the answer belongs to the body stream, not to us.
      req.on('error', function reqOnError (err: Error) {
        settle(err instanceof StreamSourceError ? err : new StreamSourceError(`${url} cannot be reached`, err))
      })
      req.on('response', function reqOnResponse (res: http.IncomingMessage) {
        const status = res.statusCode ?? 0
        if (status < 200 || status > 299) {
          // An error page is not worth reading to keep the connection.
          res.destroy()
          settle(new StreamSourceError(`${url} answered ${status}`))
          return
        }
        settle(undefined, { kind: 'http', stream: res, length: declaredLength(res), contentType: res.headers['content-type'] })
      })
      req.end()
    })
  }

  /** Destroys the agents' sockets, in use or idle; later opens are refused. */
  close (): void {
    if (this.#closed) return
    this.#closed = true
    this.#http.destroy()
    this.#https?.destroy()
  }
}

function declaredLength (res: http.IncomingMessage): number | undefined {
  const value = res.headers['content-length']
  if (value === undefined || res.headers['transfer-encoding'] !== undefined || !/^\d+$/.test(value)) return undefined
  return Number(value)
}

/**
 * Pipes source into sink with backpressure; `onBytes` sees every chunk's size as it passes.
 * Resolves when the sink has taken the last byte; rejects when either side fails or goes
 * away first, and then both are destroyed: a reader that leaves closes the source, and a
 * source that fails cuts the sink (never a clean end of a truncated stream).
 */
export function pipeStream (source: Readable, sink: Writable, onBytes?: (n: number) => void): Promise<void> {
  const done = pipeline(source, sink)
  // Counted beside the pipe rather than in a Transform stage: one buffer and one hop less
  // per chunk. pipeline() has attached its own 'data' listener by now, and the first chunk
  // comes no sooner than the next tick, so none goes uncounted.
  if (onBytes !== undefined) source.on('data', (chunk: Buffer) => { onBytes(chunk.length) })
  return done
}

/**
 * Answers `res`, a GET's response, with the source's bytes: 200, `Content-Length` when the
 * source declared it (else chunked), then the body; settles as pipeStream does (a unix
 * source rejects with ERR_STREAM_CUT).
 */
export function sendStream (res: http.ServerResponse, source: StreamSource, onBytes?: (n: number) => void): Promise<void> {
  if (!res.headersSent && !res.destroyed) {
    const headers: http.OutgoingHttpHeaders = {
      'Content-Type': source.contentType ?? 'application/octet-stream',
      'X-Content-Type-Options': 'nosniff'
    }
    if (source.length !== undefined) headers['Content-Length'] = source.length
    res.writeHead(200, headers)
  }
  // Also when the reader is already gone: the source is then destroyed.
  return source.kind === 'unix' ? source.send(res, onBytes) : pipeStream(source.stream, res, onBytes)
}
