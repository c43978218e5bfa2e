/**
 * The response to a call a provider made through the coordinator, as its caller sees it.
 */
import { Buffer } from 'node:buffer'
import type { Readable } from 'node:stream'
import type { MsgUrl } from '../core/go-url.js'
import { NULL_JSON, type Response } from '../core/message.js'
import { NoStreamError } from './errors.js'
import { parseJsonBytes } from './raw-json.js'
import { openStream, type OpenStreamOptions } from './stream-source.js'

/** Time to open a response stream when the caller names none. */
const OPEN_STREAM_TIMEOUT_MS = 10_000

/** A response to a call: its result (raw and parsed), stream URL and error. */
export class TaskResponse {
  readonly id: string
  /** '' when the task succeeded */
  readonly error: string
  /** the result's JSON bytes exactly as the provider sent them */
  readonly rawResult: Buffer
  readonly streamURL: MsgUrl | null
  /** the coded error behind a failure the caller's side produced (timeout, refusal...) */
  readonly code: string | undefined
  #parsed: { value: unknown } | undefined

  constructor (fields: { id: string, error?: string, rawResult?: Buffer, streamURL?: MsgUrl | null, code?: string }) {
    this.id = fields.id
    this.error = fields.error ?? ''
    this.rawResult = fields.rawResult ?? NULL_JSON
    this.streamURL = fields.streamURL ?? null
    this.code = fields.code
  }

  /** A TaskResponse from a decoded wire response. */
  static from (response: Response): TaskResponse {
    return new TaskResponse({
      id: response.id,
      error: response.error,
      // a view into the frame would keep the whole frame alive: copy the (usually small) result
      rawResult: Buffer.from(response.result),
      streamURL: response.streamURL
    })
  }

  /** Whether the task succeeded. */
  get ok (): boolean {
    return this.error === ''
  }

  /** The result parsed with `JSON.parse` (use `rawResult` for integers beyond 2^53). */
  get result (): unknown {
    this.#parsed ??= { value: parseJsonBytes(this.rawResult) }
    return this.#parsed.value
  }

  /** Opens the response's stream; rejects with `ERR_STREAM_NONE` or `ERR_STREAM_OPEN`. */
  openStream (opts: Partial<OpenStreamOptions> = {}): Promise<Readable> {
    if (this.streamURL === null) return Promise.reject(new NoStreamError())
    return openStream(this.streamURL, { timeoutMs: opts.timeoutMs ?? OPEN_STREAM_TIMEOUT_MS, ...withIdle(opts.idleTimeoutMs) })
  }
}

function withIdle (idleTimeoutMs: number | undefined): { idleTimeoutMs?: number } {
  return idleTimeoutMs === undefined ? {} : { idleTimeoutMs }
}
