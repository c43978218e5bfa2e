/**
 * Unix socket server with one exchange per connection: read one request frame, hand its payload
 * to the handler, write the answer frame, end the connection.
 */
import { createServer, type Server, type Socket } from 'node:net'
import { chmod, lstat, mkdir, rename, rm, stat, unlink } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { NetError, ReadTimeoutError, SocketInUseError } from './errors.js'
import { FrameDecoder, MAX_FRAME_BYTES, encodeFrame } from './frame.js'
import { MAX_SOCKET_PATH_BYTES, checkListenPath, checkSocketPath } from './socket-path.js'

/** Options of a UnixServer. */
export interface UnixServerOptions {
  path: string
  /** answers one request payload with the ack payload */
  handle: (payload: Buffer) => Promise<Buffer>
  /** payload to send a peer that broke the protocol (too large, read timeout, handler threw);
   *  undefined: just close */
  errorAck?: (err: Error) => Buffer | undefined
  maxFrameBytes?: number        // default MAX_FRAME_BYTES
  readTimeoutMs?: number        // default 10_000: time for the peer to send its whole frame
  closeTimeoutMs?: number       // default 5_000: how long close() waits for open exchanges
  socketMode?: number           // default 0o660, applied with chmod after listen
  dirMode?: number              // default 0o750 for directories it creates
}

/** Default time for a peer to send its whole request frame. */
export const READ_TIMEOUT_MS = 10_000
/** Default time close() waits for open exchanges. */
export const CLOSE_TIMEOUT_MS = 5_000

const SOCKET_MODE = 0o660
const DIR_MODE = 0o750
// A unix connect() past a full accept queue fails at once with EAGAIN, and a provider that
// gives up there loses its response. node's default queue (511) fills up whenever a burst of
// responses meets a busy coordinator; Go's net.Listen, which the original used, asks for
// somaxconn (4096 on current Linux), and so do we (the kernel caps it at somaxconn).
const LISTEN_BACKLOG = 4096

const READING = 0
const HANDLING = 1
const WRITING = 2
const CLOSED = 3

// What a connection needs from its server.
interface Hub {
  readonly handle: (payload: Buffer) => Promise<Buffer>
  readonly errorAck: ((err: Error) => Buffer | undefined) | undefined
  readonly maxFrameBytes: number
  readonly readTimeoutMs: number
  exchangeBegan (): void
  connectionClosed (conn: Connection, hadExchange: boolean): void
}

function socketOnError (): void {
  // EPIPE, ECONNRESET and the like concern this connection only; 'close' follows and cleans up.
}

function socketOnFinish (this: Socket): void {
  // The answer is in the peer's receive queue; unread request bytes must not keep us open.
  this.destroy()
}

function serverOnError (): void {
  // Accept failures (EMFILE, ENFILE) are transient and per connection: keep serving.
}

let tmpSeq = 0

/** Unix socket server answering one frame per connection. */
export class UnixServer {
  readonly #path: string
  readonly #closeTimeoutMs: number
  readonly #socketMode: number
  readonly #dirMode: number
  readonly #hub: Hub
  readonly #conns = new Set<Connection>()
  #server: Server | undefined
  #starting: Promise<void> | undefined
  #closing: Promise<void> | undefined
  #identity: { dev: bigint, ino: bigint } | undefined
  #open = 0
  #onConnClosed: (() => void) | undefined

  constructor (opts: UnixServerOptions) {
    this.#path = opts.path
    this.#closeTimeoutMs = opts.closeTimeoutMs ?? CLOSE_TIMEOUT_MS
    this.#socketMode = opts.socketMode ?? SOCKET_MODE
    this.#dirMode = opts.dirMode ?? DIR_MODE
    this.#hub = {
      handle: opts.handle,
      errorAck: opts.errorAck,
      maxFrameBytes: opts.maxFrameBytes ?? MAX_FRAME_BYTES,
      readTimeoutMs: opts.readTimeoutMs ?? READ_TIMEOUT_MS,
      exchangeBegan: () => { this.#open++ },
      connectionClosed: (conn, hadExchange) => {
        this.#conns.delete(conn)
        if (hadExchange) this.#open--
        this.#onConnClosed?.()
      }
    }
  }

  /** The socket path served. */
  get path (): string {
    return this.#path
  }

  /** Exchanges that received their request frame and have not closed yet. */
  get openExchanges (): number {
    return this.#open
  }

  /**
   * Creates missing directories, replaces a stale socket file and listens. Rejects with
   * ERR_SOCKET_PATH_TOO_LONG, ERR_NOT_A_SOCKET or ERR_SOCKET_IN_USE (a live process serves the path).
   */
  listen (): Promise<void> {
    if (this.#starting !== undefined || this.#closing !== undefined) {
      return Promise.reject(new NetError('ERR_SERVER_STATE', 'listen() may be called once, before close()'))
    }
    this.#starting = this.#start()
    return this.#starting
  }

  /**
   * Stops accepting, destroys idle connections, waits up to closeTimeoutMs for open exchanges,
   * destroys the rest and removes the socket file if it is still ours. Idempotent.
   */
  close (): Promise<void> {
    this.#closing ??= this.#shutdown()
    return this.#closing
  }

  async #start (): Promise<void> {
    const path = this.#path
    checkSocketPath(path)
    const dir = dirname(path)
    await mkdir(dir, { recursive: true, mode: this.#dirMode })
    const found = await checkListenPath(path)
    // Bind under a temporary name and rename it into place: the socket appears atomically with
    // its final mode and replaces a stale file in one step, and since libuv unlinks the *bound*
    // name on close, it can never unlink a socket that another process later put at `path`.
    const tmp = join(dir, `.${process.pid.toString(36)}-${(tmpSeq++).toString(36)}.tmp`)
    // Only when the temporary name would not fit in sun_path do we bind `path` itself; libuv
    // then unlinks `path` by name on close, whoever owns it by then.
    const direct = Buffer.byteLength(tmp) > MAX_SOCKET_PATH_BYTES
    const bindPath = direct ? path : tmp
    if (direct) {
      if (found === 'stale') await rm(path, { force: true })
    } else {
      await rm(tmp, { force: true })
    }
    const server = createServer({ allowHalfOpen: true }, this.#serverOnConnection)
    await listenOn(server, bindPath, path)
    try {
      await chmod(bindPath, this.#socketMode)
      const st = await stat(bindPath, { bigint: true })
      if (!direct) await rename(bindPath, path)
      this.#identity = { dev: st.dev, ino: st.ino }
    } catch (err) {
      server.close()
      throw err
    }
    server.on('error', serverOnError)
    this.#server = server
  }

  #serverOnConnection = (socket: Socket): void => {
    if (this.#closing !== undefined) {
      socket.destroy()
      return
    }
    this.#conns.add(new Connection(socket, this.#hub))
  }

  async #shutdown (): Promise<void> {
    if (this.#starting !== undefined) await this.#starting.catch(() => {})
    const server = this.#server
    if (server === undefined) return
    const closed = new Promise<void>(resolve => { server.close(() => resolve()) })
    for (const conn of this.#conns) if (!conn.hasExchange) conn.destroy()
    // removed first so that new peers see ENOENT (provider gone) at once; a failure to remove
    // is reported only after the connections are dealt with
    const removal = this.#removeSocketFile().then(() => undefined, (err: unknown) => err)
    await this.#until(() => this.#open === 0, this.#closeTimeoutMs)
    for (const conn of this.#conns) conn.destroy()
    // a destroyed socket always emits 'close', so this wait needs no timer
    await this.#until(() => this.#conns.size === 0)
    await closed
    const err = await removal
    if (err !== undefined) throw err
  }

  // Resolves once `done()` holds (checked on every connection close), or after timeoutMs.
  #until (done: () => boolean, timeoutMs?: number): Promise<void> {
    if (done()) return Promise.resolve()
    return new Promise<void>(resolve => {
      let timer: NodeJS.Timeout | undefined
      const finish = (): void => {
        clearTimeout(timer)
        this.#onConnClosed = undefined
        resolve()
      }
      if (timeoutMs !== undefined) timer = setTimeout(finish, timeoutMs).unref()
      this.#onConnClosed = () => { if (done()) finish() }
    })
  }

  async #removeSocketFile (): Promise<void> {
    const id = this.#identity
    if (id === undefined) return
    this.#identity = undefined
    try {
      const st = await lstat(this.#path, { bigint: true })
      if (st.dev === id.dev && st.ino === id.ino) await unlink(this.#path)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
  }
}

function listenOn (server: Server, bindPath: string, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    function serverOnListenError (err: NodeJS.ErrnoException): void {
      reject(err.code === 'EADDRINUSE' ? new SocketInUseError(path) : err)
    }
    server.once('error', serverOnListenError)
    server.listen({ path: bindPath, backlog: LISTEN_BACKLOG }, () => {
      server.off('error', serverOnListenError)
      resolve()
    })
  })
}

/** One accepted connection, carrying one exchange. */
class Connection {
  readonly #socket: Socket
  readonly #hub: Hub
  readonly #decoder: FrameDecoder
  #state = READING
  #hasExchange = false
  #timer: NodeJS.Timeout | undefined

  constructor (socket: Socket, hub: Hub) {
    this.#socket = socket
    this.#hub = hub
    this.#decoder = new FrameDecoder({ maxFrameBytes: hub.maxFrameBytes, onFrame: this.#decoderOnFrame })
    this.#timer = setTimeout(this.#timerOnFire, hub.readTimeoutMs).unref()
    socket.on('data', this.#socketOnData)
    socket.on('end', this.#socketOnEnd)
    socket.on('error', socketOnError)
    socket.on('close', this.#socketOnClose)
  }

  get hasExchange (): boolean {
    return this.#hasExchange
  }

  destroy (): void {
    this.#socket.destroy()
  }

  #socketOnData = (chunk: Buffer): void => {
    try {
      this.#decoder.push(chunk)
    } catch (err) {
      // only ERR_FRAME_TOO_LARGE: the decoder is failed for good, answer and close
      this.#stopReading()
      this.#reply(this.#errorAckFor(err as Error))
    }
  }

  #socketOnEnd = (): void => {
    // The server allows half-open connections so that a peer may shut down its side right after
    // its frame; one that ends before a whole frame is closed quietly.
    if (this.#state === READING) this.#socket.destroy()
  }

  #socketOnClose = (): void => {
    this.#state = CLOSED
    clearTimeout(this.#timer)
    this.#hub.connectionClosed(this, this.#hasExchange)
  }

  #timerOnFire = (): void => {
    if (this.#state === READING) {
      this.#stopReading()
      this.#reply(this.#errorAckFor(new ReadTimeoutError(this.#hub.readTimeoutMs)))
    } else {
      // the peer did not take its answer in time
      this.#socket.destroy()
    }
  }

  #decoderOnFrame = (payload: Buffer): void => {
    this.#stopReading()
    this.#hasExchange = true
    this.#hub.exchangeBegan()
    let answer: Promise<Buffer>
    try {
      // Promise.resolve: a handler that is not async still gets its answer sent
      answer = Promise.resolve(this.#hub.handle(payload))
    } catch (err) {
      this.#handlerOnError(err)
      return
    }
    answer.then(this.#handlerOnAnswer, this.#handlerOnError)
  }

  #handlerOnAnswer = (ack: Buffer): void => {
    if (Buffer.isBuffer(ack)) this.#reply(ack)
    else this.#handlerOnError(new TypeError('handler answered with something other than a Buffer'))
  }

  #handlerOnError = (err: unknown): void => {
    this.#reply(this.#errorAckFor(err instanceof Error ? err : new Error(String(err))))
  }

  // One exchange per connection: whatever the peer sends after its frame is never read.
  #stopReading (): void {
    this.#state = HANDLING
    clearTimeout(this.#timer)
    this.#decoder.stop()
    this.#socket.pause()
  }

  #errorAckFor (err: Error): Buffer | undefined {
    const errorAck = this.#hub.errorAck
    if (errorAck === undefined) return undefined
    try {
      const ack = errorAck(err)
      return Buffer.isBuffer(ack) ? ack : undefined
    } catch {
      return undefined
    }
  }

  #reply (ack: Buffer | undefined): void {
    const socket = this.#socket
    if (this.#state === CLOSED || socket.destroyed) return
    if (ack === undefined) {
      socket.destroy()
      return
    }
    let frame: Buffer
    try {
      frame = encodeFrame(ack)
    } catch {
      socket.destroy()
      return
    }
    this.#state = WRITING
    // bounds the time a peer that stopped reading may hold the connection
    this.#timer = setTimeout(this.#timerOnFire, this.#hub.readTimeoutMs).unref()
    socket.once('finish', socketOnFinish)
    socket.end(frame)
  }
}
