/**
 * Proxied streams (SPEC 6): the registry of stream addresses the coordinator issued, the
 * `/stream?addr=` URLs handed out for them, serving those addresses (and only those), and
 * one-shot unix sockets serving request streams to providers.
 */
import type { ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { CoordinatorError } from './errors.js'
import { formatUrl, parseUrlString, unixUrl, type MsgUrl } from './go-url.js'
import { silentLogger, type Logger } from './log.js'
import { streamProxyUrl } from './rewrite.js'
import { StreamSources, pipeStream, sendStream, type StreamSource } from '../http/stream-pipe.js'
import { listenOnce, type OneShot } from '../net/stream-socket.js'
import { randomHex } from '../net/random-name.js'

/** Options of a StreamProxy. */
export interface StreamProxyOptions {
  /** base of the URLs handed out: `http://localhost:P` or the configured external base */
  baseUrl: () => MsgUrl
  /** how long an issued address stays servable, and an unused one-shot socket open */
  ttlMs: number
  /** directory of the one-shot sockets (`<socket_dir>/streams`) */
  socketDir: string
  /** one-shot sockets open at once, each counted from listening to the end of its stream */
  maxSockets: number
  /** issued addresses remembered at once; beyond it the oldest is forgotten */
  maxIssued: number
  /** time for an http(s) source to connect and answer with its headers */
  sourceTimeoutMs: number
  /** read buffer of each unix source sent to a `/stream` reader (default 256 KiB) */
  readBytes?: number
  /** mode of the one-shot socket files (default 0o660) */
  socketMode?: number
  /** mode of the directory they live in, when created (default 0o750) */
  dirMode?: number
  log?: Logger
}

/** Counters of the streams served, for metrics. */
export interface StreamStats {
  /** stream bytes served, both ways */
  bytes: number
  /** streams being piped now, both ways */
  active: number
  /** refused: addresses never issued or expired (403), request streams beyond the socket limit (503) */
  refused: number
  /** sources that could not be opened, and streams that ended early (either side) */
  failed: number
  /** live addresses forgotten early because the registry was full */
  evicted: number
}

interface OneShotEntry {
  shot: OneShot | undefined
  /** the provider's connection, once it came */
  socket: Socket | undefined
}

// 64 random bits: one-shot socket names are not meant to be guessed.
const NAME_BYTES = 8

/** An issued stream address: until when it is served, and the headers its GET needs. */
interface Issued {
  expires: number
  headers: Record<string, string> | undefined
}

/** Issues `/stream` URLs, serves the addresses it issued, and serves request streams on one-shot sockets. */
export class StreamProxy {
  readonly stats: StreamStats = { bytes: 0, active: 0, refused: 0, failed: 0, evicted: 0 }
  readonly #o: StreamProxyOptions
  readonly #log: Logger
  readonly #sources: StreamSources
  // Issued address -> its expiry (monotonic ms) and the headers its GET needs. Every entry
  // lives ttlMs and re-issuing moves an entry to the end, so insertion order is expiry order:
  // pruning stops at the first live one.
  readonly #issued = new Map<string, Issued>()
  // One-shot socket path -> its entry, from before listening until its stream ends.
  readonly #oneShots = new Map<string, OneShotEntry>()
  #closing: Promise<void> | undefined

  constructor (opts: StreamProxyOptions) {
    this.#o = opts
    this.#log = opts.log ?? silentLogger
    this.#sources = new StreamSources({
      timeoutMs: opts.sourceTimeoutMs,
      ...(opts.readBytes === undefined ? {} : { unixReadBytes: opts.readBytes })
    })
  }

  /** One-shot sockets open now (listening, or carrying their stream). */
  get openSockets (): number {
    return this.#oneShots.size
  }

  /** Issued addresses remembered now (expired ones may linger until the next prune). */
  get issuedCount (): number {
    return this.#issued.size
  }

  /**
   * The coordinator's `/stream` URL for `source`; `source` becomes servable until it expires.
   * `headers` go with the GET of an http(s) source (the federation token, for a peer's `/stream`).
   */
  proxyUrl (source: MsgUrl, headers?: Record<string, string>): MsgUrl {
    const addr = formatUrl(source)
    const now = performance.now()
    this.#prune(now)
    this.#issued.delete(addr)
    if (this.#issued.size >= this.#o.maxIssued) {
      const oldest = this.#issued.keys().next().value
      if (oldest !== undefined) this.#issued.delete(oldest)
      this.stats.evicted++
    }
    this.#issued.set(addr, { expires: now + this.#o.ttlMs, headers })
    return streamProxyUrl(this.#o.baseUrl(), source)
  }

  /** Whether `addr` (as it appears in `/stream?addr=`) was issued and is still live. */
  isIssued (addr: string): boolean {
    return this.#live(addr) !== undefined
  }

  #live (addr: string): Issued | undefined {
    const now = performance.now()
    this.#prune(now)
    const issued = this.#issued.get(addr)
    return issued !== undefined && issued.expires > now ? issued : undefined
  }

  /**
   * Opens the source of a `/stream?addr=` request. Rejects with ERR_STREAM_ADDR_INVALID
   * (missing or unparsable), ERR_STREAM_FORBIDDEN (not issued, or expired: never connected
   * to) or ERR_STREAM_SOURCE (issued, but it cannot be opened).
   */
  async open (addr: string | null | undefined): Promise<StreamSource> {
    if (addr === null || addr === undefined || addr === '') throw invalidAddr()
    let url: MsgUrl
    try {
      url = parseUrlString(addr)
    } catch {
      throw invalidAddr()
    }
    const canonical = formatUrl(url)
    const issued = this.#live(addr) ?? this.#live(canonical)
    if (issued === undefined) {
      this.stats.refused++
      this.#log.info('stream refused: address not issued or expired', { addr })
      throw new CoordinatorError('ERR_STREAM_FORBIDDEN', 'stream address not issued by this coordinator, or expired')
    }
    try {
      return url.scheme === 'unix' ? await this.#sources.openUnix(url.path) : await this.#sources.openHttp(canonical, issued.headers)
    } catch (err) {
      this.stats.failed++
      this.#log.warn('stream source failed to open', { addr, error: err })
      throw new CoordinatorError('ERR_STREAM_SOURCE', 'failed to stream data')
    }
  }

  /** Pipes an opened source into an HTTP response; resolves when done, never rejects. */
  async serve (source: StreamSource, res: ServerResponse): Promise<void> {
    this.stats.active++
    try {
      await sendStream(res, source, this.#countBytes)
    } catch (err) {
      this.stats.failed++
      this.#log.info('stream ended early', { error: err })
    } finally {
      this.stats.active--
    }
  }

  /**
   * Serves an http(s) request stream to the provider on a one-shot unix socket under
   * `socketDir`; resolves with that socket's URL. The source is opened when the provider
   * connects. The socket is removed once used, after ttlMs unused, on release() and on
   * close(). Rejects with ERR_OVERLOADED beyond maxSockets. `headers` go with the GET of
   * the source (the federation token, when the source is a peer's `/stream`).
   */
  async serveRequestStream (source: MsgUrl, id: string, headers?: Record<string, string>): Promise<MsgUrl> {
    if (source.scheme === 'unix') return source
    if (this.#closing !== undefined) throw new CoordinatorError('ERR_SHUTTING_DOWN', 'coordinator is shutting down')
    if (this.#oneShots.size >= this.#o.maxSockets) {
      this.stats.refused++
      throw new CoordinatorError('ERR_OVERLOADED', `too many open stream sockets (limit ${this.#o.maxSockets})`)
    }
    const path = join(this.#o.socketDir, `${randomHex(NAME_BYTES)}.sock`)
    const entry: OneShotEntry = { shot: undefined, socket: undefined }
    // Counted from now: the slot is taken before the first await.
    this.#oneShots.set(path, entry)
    try {
      entry.shot = await listenOnce({
        path,
        ttlMs: this.#o.ttlMs,
        ...(this.#o.socketMode === undefined ? {} : { socketMode: this.#o.socketMode }),
        ...(this.#o.dirMode === undefined ? {} : { dirMode: this.#o.dirMode })
      }, socket => { void this.#pump(path, entry, socket, source, id, headers) })
    } catch (err) {
      this.#oneShots.delete(path)
      // Not the client's fault (a socket_dir too long for sun_path, permissions): a 500.
      throw new CoordinatorError('ERR_STREAM_SOCKET', `cannot create a stream socket: ${(err as Error).message}`)
    }
    void entry.shot.done.then(end => {
      if (end !== 'used') this.#oneShots.delete(path)
      this.#log.debug('request stream socket removed', { id, path, end })
    })
    if (this.#closing !== undefined) entry.shot.close()
    return unixUrl(path)
  }

  /** Closes the one-shot socket behind `url` if no provider connected to it yet (a failed dispatch). */
  release (url: MsgUrl): void {
    if (url.scheme !== 'unix') return
    const entry = this.#oneShots.get(url.path)
    if (entry !== undefined && entry.socket === undefined) entry.shot?.close()
  }

  /** Removes every one-shot socket, cuts the request streams in progress, closes the sources' agents. */
  close (): Promise<void> {
    this.#closing ??= this.#closeAll()
    return this.#closing
  }

  async #closeAll (): Promise<void> {
    const done: Array<Promise<unknown>> = []
    for (const entry of this.#oneShots.values()) {
      entry.socket?.destroy()
      if (entry.shot !== undefined) {
        entry.shot.close()
        done.push(entry.shot.done)
      }
    }
    await Promise.all(done)
    this.#sources.close()
    this.#issued.clear()
  }

  /** A provider connected to a one-shot socket: open the source and pipe it in. */
  async #pump (path: string, entry: OneShotEntry, socket: Socket, source: MsgUrl, id: string, headers: Record<string, string> | undefined): Promise<void> {
    entry.socket = socket
    this.stats.active++
    // pipeline() handles errors once it runs; until then a reset must not be uncaught.
    socket.on('error', socketOnError)
    const addr = formatUrl(source)
    try {
      const opened = await this.#sources.openHttp(addr, headers)
      await pipeStream(opened.stream, socket, this.#countBytes)
      this.#log.debug('request stream served', { id, source: addr })
    } catch (err) {
      this.stats.failed++
      // A unix stream socket has no way to say "error": the provider sees the end early.
      this.#log.warn('request stream failed', { id, source: addr, error: err })
    } finally {
      // All written bytes are in the provider's receive queue: closing loses none of them.
      socket.destroy()
      this.stats.active--
      this.#oneShots.delete(path)
    }
  }

  #prune (now: number): void {
    for (const [addr, { expires }] of this.#issued) {
      if (expires > now) return
      this.#issued.delete(addr)
    }
  }

  #countBytes = (n: number): void => {
    this.stats.bytes += n
  }
}

function invalidAddr (): CoordinatorError {
  return new CoordinatorError('ERR_STREAM_ADDR_INVALID', 'invalid addr')
}

function socketOnError (): void {}
