/**
 * One-shot unix sockets: a fresh socket file that accepts exactly one connection, hands it
 * over, and disappears; or disappears unused after its time to live, or when closed.
 */
import { chmod, lstat, mkdir, rename, rm, stat, unlink } from 'node:fs/promises'
import { createServer, type Server, type Socket } from 'node:net'
import { dirname, join } from 'node:path'
import { SocketInUseError } from './errors.js'
import { randomHex } from './random-name.js'
import { MAX_SOCKET_PATH_BYTES, checkListenPath, checkSocketPath } from './socket-path.js'

/** Options of a one-shot socket. */
export interface OneShotOptions {
  path: string
  /** how long the socket waits for its one connection */
  ttlMs: number
  /** mode of the socket file (default 0o660) */
  socketMode?: number
  /** mode of the parent directories it creates (default 0o750) */
  dirMode?: number
  /** high water mark of the accepted socket, both ways (default 64 KiB) */
  highWaterMark?: number
}

/** How a one-shot socket ended: its connection came, its time ran out, or it was closed. */
export type OneShotEnd = 'used' | 'expired' | 'closed'

/** A listening one-shot socket. */
export interface OneShot {
  readonly path: string
  /** Stops listening and removes the socket file if no connection came yet; idempotent. */
  close (): void
  /** Resolves once the socket file is removed, with the reason it ended. */
  readonly done: Promise<OneShotEnd>
}

const SOCKET_MODE = 0o660
const DIR_MODE = 0o750
/** Read and write buffer of the accepted socket: one libuv read, one large write. */
const HIGH_WATER_MARK = 64 * 1024
// setTimeout() turns a delay above 2^31-1 ms into 1 ms.
const MAX_TIMER_MS = 2 ** 31 - 1

/**
 * Listens on a fresh unix socket that accepts exactly one connection, hands it to
 * onConnection, then stops listening and removes the socket file; an unused socket is
 * removed after ttlMs. Parent directories are created.
 *
 * A stale socket file at `path` is replaced; a live one rejects with ERR_SOCKET_IN_USE, a
 * file of another type with ERR_NOT_A_SOCKET, a path too long with ERR_SOCKET_PATH_TOO_LONG.
 * The accepted socket allows half-open connections (a peer that shuts down its writing side
 * may still read), and belongs to `onConnection`: close() does not touch it.
 */
export async function listenOnce (opts: OneShotOptions, onConnection: (socket: Socket) => void): Promise<OneShot> {
  const { path } = opts
  checkSocketPath(path)
  const dir = dirname(path)
  await mkdir(dir, { recursive: true, mode: opts.dirMode ?? DIR_MODE })
  const found = await checkListenPath(path)
  // Bound under a temporary name, given its mode, then renamed into place: nobody can connect
  // to it before its mode is set, and the one connection it takes must be the intended peer.
  const tmp = join(dir, `.${randomHex(6)}.tmp`)
  const direct = Buffer.byteLength(tmp) > MAX_SOCKET_PATH_BYTES
  const bindPath = direct ? path : tmp
  if (direct && found === 'stale') await rm(path, { force: true })

  const shot = new OneShotSocket(path, onConnection, opts.highWaterMark ?? HIGH_WATER_MARK)
  await shot.listen(bindPath, direct, opts.socketMode ?? SOCKET_MODE, opts.ttlMs)
  return shot
}

class OneShotSocket implements OneShot {
  readonly path: string
  readonly done: Promise<OneShotEnd>
  readonly #server: Server
  readonly #onConnection: (socket: Socket) => void
  #resolveDone!: (end: OneShotEnd) => void
  #identity: { dev: bigint, ino: bigint } | undefined
  #timer: NodeJS.Timeout | undefined
  #ended = false

  constructor (path: string, onConnection: (socket: Socket) => void, highWaterMark: number) {
    this.path = path
    this.#onConnection = onConnection
    this.done = new Promise(resolve => { this.#resolveDone = resolve })
    this.#server = createServer({ allowHalfOpen: true, highWaterMark }, this.#serverOnConnection)
  }

  async listen (bindPath: string, direct: boolean, mode: number, ttlMs: number): Promise<void> {
    const server = this.#server
    await new Promise<void>((resolve, reject) => {
      function serverOnListenError (err: NodeJS.ErrnoException): void {
        reject(err.code === 'EADDRINUSE' ? new SocketInUseError(bindPath) : err)
      }
      server.once('error', serverOnListenError)
      server.listen({ path: bindPath }, () => {
        server.off('error', serverOnListenError)
        resolve()
      })
    })
    // Accept failures (EMFILE) concern the peer that tried; keep waiting for the real one.
    server.on('error', serverOnError)
    try {
      await chmod(bindPath, mode)
      const st = await stat(bindPath, { bigint: true })
      if (!direct) await rename(bindPath, this.path)
      this.#identity = { dev: st.dev, ino: st.ino }
    /* c8 ignore start */
    } catch (err) {
      // chmod/stat/rename of the file we bound a moment ago failed (someone removed it):
      // give up on this socket; libuv unlinks the bound name on close.
      this.#ended = true
      server.close()
      this.#resolveDone('closed')
      throw err
    }
    /* c8 ignore stop */
    this.#timer = setTimeout(oneShotOnExpire, Math.min(Math.max(ttlMs, 1), MAX_TIMER_MS), this).unref()
  }

  close (): void {
    this.#end('closed')
  }

  /** @internal the time-to-live timer fired */
  expire (): void {
    this.#end('expired')
  }

  #serverOnConnection = (socket: Socket): void => {
    // Never taken today: #end() closes the listening handle inside the first callback, and
    // libuv stops its accept loop there, so peers queued behind the first get ECONNRESET.
    // Kept so that an accept batch can never hand over a second connection.
    /* c8 ignore next 4 */
    if (this.#ended) {
      socket.destroy()
      return
    }
    this.#end('used')
    try {
      this.#onConnection(socket)
    } catch {
      socket.destroy()
    }
  }

  #end (reason: OneShotEnd): void {
    if (this.#ended) return
    this.#ended = true
    clearTimeout(this.#timer)
    // Closes the listening handle now; the callback itself would wait for the handed-over
    // connection, which is not ours to wait for.
    this.#server.close()
    void this.#removeFile().then(() => { this.#resolveDone(reason) })
  }

  // libuv unlinks the name it bound on close; after a rename that is the temporary name,
  // so the final one is removed here, and only while it is still our socket.
  async #removeFile (): Promise<void> {
    const id = this.#identity
    if (id === undefined) return
    this.#identity = undefined
    try {
      const st = await lstat(this.path, { bigint: true })
      if (st.dev === id.dev && st.ino === id.ino) await unlink(this.path)
    } catch {
      // ENOENT: already gone (libuv removed a directly bound name). Anything else cannot be
      // helped here and must not keep `done` from resolving.
    }
  }
}

function oneShotOnExpire (shot: OneShotSocket): void {
  shot.expire()
}

function serverOnError (): void {}
