/**
 * Output streams of task handlers, each served once on its own one-shot unix socket under
 * `S/streams/<task>/<service>/` (the original's layout), with backpressure.
 */
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import type { Socket } from 'node:net'
import type { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { unixUrl, type MsgUrl } from '../core/go-url.js'
import type { Logger } from '../core/log.js'
import { listenOnce, type OneShot } from '../net/stream-socket.js'

/** Options of ResponseStreams. */
export interface ResponseStreamsOptions {
  /** the directory of one task's stream sockets */
  dirOf: (task: string) => string
  /** how long a stream socket waits for its reader */
  ttlMs: number
  socketMode?: number
  log: Logger
}

interface Served {
  shot: OneShot | undefined
  source: Readable
  /** settles when the stream was copied, failed, or was never read */
  finished: Promise<void>
}

/** The output streams being served: one one-shot socket each. */
export class ResponseStreams {
  readonly #o: ResponseStreamsOptions
  readonly #served = new Set<Served>()
  #idleWaiters: Array<() => void> = []

  constructor (opts: ResponseStreamsOptions) {
    this.#o = opts
  }

  /** Streams served and not finished (waiting for a reader, or being read). */
  get open (): number {
    return this.#served.size
  }

  /**
   * Serves `source` to the first reader of a new one-shot socket; resolves with its URL. The
   * source is destroyed if nobody connects before the time to live, or when `closeAll()` runs.
   */
  async serve (task: string, source: Readable): Promise<MsgUrl> {
    const path = join(this.#o.dirOf(task), `${randomBytes(8).toString('hex')}.sock`)
    let settle!: () => void
    const entry: Served = { shot: undefined, source, finished: new Promise(resolve => { settle = resolve }) }
    this.#served.add(entry)
    entry.finished.then(() => { this.#forget(entry) }, () => { this.#forget(entry) })
    let used = false
    const onConnection = (socket: Socket): void => {
      used = true
      this.#copy(task, source, socket).then(settle, settle)
    }
    try {
      entry.shot = await listenOnce({
        path,
        ttlMs: this.#o.ttlMs,
        ...(this.#o.socketMode === undefined ? {} : { socketMode: this.#o.socketMode })
      }, onConnection)
    } catch (err) {
      source.destroy()
      settle()
      throw err
    }
    entry.shot.done.then(end => {
      if (used) return
      if (end === 'expired') this.#o.log.warn('response stream not read in time', { task, path })
      source.destroy()
      settle()
    }, settle)
    return unixUrl(path)
  }

  /** Resolves once every stream finished (read to the end, failed, or expired). */
  whenIdle (): Promise<void> {
    if (this.#served.size === 0) return Promise.resolve()
    return new Promise(resolve => { this.#idleWaiters.push(resolve) })
  }

  /** Closes the sockets still waiting and stops the copies in progress. */
  closeAll (): void {
    for (const entry of this.#served) {
      entry.shot?.close()
      entry.source.destroy()
    }
  }

  async #copy (task: string, source: Readable, socket: Socket): Promise<void> {
    try {
      await pipeline(source, socket)
    } catch (err) {
      this.#o.log.warn('response stream failed', { task, error: err })
    } finally {
      // the bytes are with the kernel once the pipeline finished; a reader that keeps its
      // half open must not hold the socket
      socket.destroy()
    }
  }

  #forget (entry: Served): void {
    if (!this.#served.delete(entry) || this.#served.size > 0) return
    const waiters = this.#idleWaiters
    this.#idleWaiters = []
    for (const resolve of waiters) resolve()
  }
}
