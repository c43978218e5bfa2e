/**
 * A unix socket stream source read straight into one buffer of its own, and the sending of
 * its bytes as an HTTP response body: each read is framed in place (chunk size before the
 * bytes, CRLF after them) and written to the response's connection as one buffer.
 *
 * Not a pipeline() of streams, on purpose: a Readable socket allocates a fresh 64 KiB
 * buffer per read (garbage to collect, pages to fault in), and a ServerResponse adds a
 * cork, four writes and a writev per chunk. Here a 1 GiB stream is about 5,000 reads and as
 * many writes, with no allocation and no copy in between.
 */
import type { ServerResponse } from 'node:http'
import { connect, type Socket } from 'node:net'
import { StreamCutError, StreamSourceError } from './errors.js'

/**
 * Bytes a unix source reads at once, by default: a unix socket holds about 210 KiB in
 * flight (the writer's send buffer), so one read mostly takes all there is. It is also the
 * memory each unix stream holds, allocated once when its source is opened.
 */
export const UNIX_READ_BYTES = 256 * 1024

// sun_path holds 108 bytes on Linux, one of them the NUL.
const MAX_SOCKET_PATH_BYTES = 107
const CR = 0x0d
const LF = 0x0a
const HEX_DIGITS = Buffer.from('0123456789abcdef', 'latin1')

/**
 * Connects to the unix socket at `path`; resolves once connected, before any byte is read.
 * Rejects with ERR_STREAM_SOURCE.
 */
export function openUnixSource (path: string, readBytes = UNIX_READ_BYTES): Promise<UnixSource> {
  // Checked here: a longer path would fail in libuv with a less helpful error.
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH_BYTES) {
    return Promise.reject(new StreamSourceError(`socket path is too long: ${path}`))
  }
  const source = new UnixSource(path, readBytes)
  return new Promise((resolve, reject) => {
    // A unix connect() completes or fails at once (a full backlog is EAGAIN): no timer.
    const socket = source.socket
    socket.once('connect', function socketOnConnect () {
      socket.off('error', socketOnConnectError)
      resolve(source)
    })
    socket.once('error', socketOnConnectError)
    function socketOnConnectError (err: Error): void {
      socket.destroy()
      reject(new StreamSourceError(`unix://${path} cannot be reached`, err))
    }
  })
}

/**
 * An open unix socket source, read into one buffer reused for every read: nothing is read
 * until send() has a response to put the bytes in. Sent once.
 */
export class UnixSource {
  readonly kind = 'unix'
  /** a unix source declares no length */
  readonly length = undefined
  /** nor a content type */
  readonly contentType = undefined
  /** the connection to the source (in `onread` mode: it emits no 'data') */
  readonly socket: Socket
  // [room for the chunk-size line][read area][room for the CRLF after the bytes]
  readonly #buffer: Buffer
  readonly #dataStart: number
  #res: ServerResponse | undefined
  #conn: Socket | undefined
  #chunked = false
  // A write that did not complete at once still holds the buffer: no read until it does.
  #waiting = false
  #sent = 0
  #onBytes: ((n: number) => void) | undefined
  #resolve: (() => void) | undefined
  #reject: ((err: Error) => void) | undefined
  #settled = false

  /** @internal use openUnixSource() */
  constructor (path: string, readBytes: number) {
    this.#dataStart = readBytes.toString(16).length + 2
    this.#buffer = Buffer.allocUnsafeSlow(this.#dataStart + readBytes + 2)
    this.socket = connect({
      path,
      onread: { buffer: this.#buffer.subarray(this.#dataStart, this.#dataStart + readBytes), callback: this.#socketOnRead }
    })
    // A paused socket is not read when it connects: send() starts reading.
    this.socket.pause()
    this.socket.on('end', this.#socketOnEnd)
    this.socket.on('error', this.#socketOnError)
    this.socket.on('close', this.#socketOnClose)
  }

  /** Size of the read buffer: the most bytes one read takes. */
  get readBytes (): number {
    return this.#buffer.length - this.#dataStart - 2
  }

  /**
   * Sends the source's bytes as the body of `res`, a GET's response whose head is written
   * (or stored) already; `onBytes` sees each read's size. Resolves when the response is
   * finished; rejects with ERR_STREAM_CUT when the reader leaves or the source fails or
   * closes early, after destroying both sides (never a clean end of a truncated stream).
   */
  send (res: ServerResponse, onBytes?: (n: number) => void): Promise<void> {
    if (this.#res !== undefined) return Promise.reject(new StreamCutError('the source was sent already'))
    if (this.#settled) return Promise.reject(new StreamCutError('the source closed before it was sent'))
    this.#res = res
    this.#onBytes = onBytes
    const done = new Promise<void>((resolve, reject) => {
      this.#resolve = resolve
      this.#reject = reject
    })
    const conn = res.req.socket
    if (res.destroyed || conn.destroyed) {
      this.#fail(new StreamCutError('the reader had gone'))
      return done
    }
    this.#conn = conn
    conn.on('close', this.#connOnClose)
    res.on('finish', this.#resOnFinish)
    // Pipelined behind an earlier response on the same connection: its turn comes with it.
    if (res.socket === null) res.once('socket', this.#resOnSocket)
    else this.#start()
    return done
  }

  /** Closes the source without sending it. */
  destroy (): void {
    this.socket.destroy()
  }

  #start (): void {
    const res = this.#res as ServerResponse
    if (this.#settled) return
    // The head goes first, through the response; the body then goes straight to the
    // connection, framed as node would frame it (chunked, or as is for HTTP/1.0).
    res.flushHeaders()
    this.#chunked = res.chunkedEncoding
    this.socket.resume()
  }

  #socketOnRead = (n: number): boolean => {
    if (this.#settled) return false
    this.#sent += n
    this.#onBytes?.(n)
    const buffer = this.#buffer
    let start = this.#dataStart
    let end = start + n
    if (this.#chunked) {
      buffer[--start] = LF
      buffer[--start] = CR
      for (let rest = n; rest > 0; rest >>>= 4) buffer[--start] = HEX_DIGITS[rest & 0xf] as number
      buffer[end++] = CR
      buffer[end++] = LF
    }
    const conn = this.#conn as Socket
    conn.write(buffer.subarray(start, end), this.#connOnWritten)
    if (conn.writableLength === 0) return true
    // The kernel took part of it: the rest is written from this buffer later.
    this.#waiting = true
    return false
  }

  #connOnWritten = (err?: Error | null): void => {
    if (err !== undefined && err !== null) {
      this.#fail(new StreamCutError(`the reader went away after ${this.#sent} B`, err))
      return
    }
    if (!this.#waiting || this.#settled) return
    this.#waiting = false
    this.socket.resume()
  }

  #resOnSocket = (): void => {
    // After node has flushed what the response had queued.
    process.nextTick(() => { this.#start() })
  }

  #socketOnEnd = (): void => {
    if (!this.#settled) this.#res?.end()
  }

  #socketOnError = (err: Error): void => {
    // After the end every byte is in: a failure to shut down the socket then costs nothing.
    if (!this.socket.readableEnded) this.#fail(new StreamCutError(`the source failed after ${this.#sent} B`, err))
  }

  #socketOnClose = (): void => {
    // After 'end' the response is ending; without it the source was cut.
    if (!this.socket.readableEnded) this.#fail(new StreamCutError(`the source closed after ${this.#sent} B without an end`))
  }

  #connOnClose = (): void => {
    this.#fail(new StreamCutError(`the reader went away after ${this.#sent} B`))
  }

  #resOnFinish = (): void => {
    this.#settle(undefined)
  }

  #fail (err: Error): void {
    if (this.#settled) return
    this.socket.destroy()
    // Cut, so that the reader sees an error rather than a clean end of a truncated body.
    this.#res?.destroy()
    this.#settle(err)
  }

  #settle (err: Error | undefined): void {
    if (this.#settled) return
    this.#settled = true
    this.#conn?.off('close', this.#connOnClose)
    const res = this.#res
    res?.off('finish', this.#resOnFinish)
    res?.off('socket', this.#resOnSocket)
    if (err === undefined) this.#resolve?.()
    else this.#reject?.(err)
  }
}
