/**
 * What a task handler receives: the request's fields, its args (raw and parsed), a way to
 * read the request's stream, and a signal that aborts when the task times out or the
 * provider is forced to stop.
 */
import type { Buffer } from 'node:buffer'
import type { Readable } from 'node:stream'
import type { MsgUrl } from '../core/go-url.js'
import type { Request } from '../core/message.js'
import { NoStreamError } from './errors.js'
import { parseJsonBytes } from './raw-json.js'
import { openStream, type OpenStreamOptions } from './stream-source.js'

/** Time to open the request's stream when the handler names none. */
const OPEN_STREAM_TIMEOUT_MS = 10_000

/** A request as a task handler sees it. */
export class TaskRequest {
  readonly id: string
  readonly task: string
  /** the args' JSON bytes exactly as the sender wrote them (`null` when absent) */
  readonly rawArgs: Buffer
  /** where the request's input stream can be read, if it has one */
  readonly streamURL: MsgUrl | null
  /** where the response goes (the kit delivers it) */
  readonly responseHook: MsgUrl | null
  /** aborts when the task's timeout passes or the provider is forced to stop */
  readonly signal: AbortSignal
  #args: { value: unknown } | undefined

  constructor (request: Request, signal: AbortSignal) {
    this.id = request.id
    this.task = request.task
    this.rawArgs = request.args
    this.streamURL = request.streamURL
    this.responseHook = request.responseHook
    this.signal = signal
  }

  /** The args parsed with `JSON.parse` (use `rawArgs` for integers beyond 2^53). */
  get args (): unknown {
    this.#args ??= { value: parseJsonBytes(this.rawArgs) }
    return this.#args.value
  }

  /** Whether the request carries an input stream. */
  get hasStream (): boolean {
    return this.streamURL !== null
  }

  /** Opens the request's input stream; rejects with `ERR_STREAM_NONE` or `ERR_STREAM_OPEN`. */
  openStream (opts: Partial<OpenStreamOptions> = {}): Promise<Readable> {
    if (this.streamURL === null) return Promise.reject(new NoStreamError())
    return openStream(this.streamURL, {
      timeoutMs: opts.timeoutMs ?? OPEN_STREAM_TIMEOUT_MS,
      ...(opts.idleTimeoutMs === undefined ? {} : { idleTimeoutMs: opts.idleTimeoutMs })
    })
  }
}
