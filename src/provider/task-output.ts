/**
 * What a task handler may return, and how it becomes a response: a plain value is the
 * result; `{ result?, stream }` with a Readable (or bytes) as `stream` is a result plus an
 * output stream, and a bare Readable is a stream alone. A Readable can never be a JSON
 * result, so the forms cannot be confused.
 */
import { Buffer } from 'node:buffer'
import { Readable } from 'node:stream'
import type { TaskRequest } from './task-request.js'
import { jsonBytes } from './raw-json.js'

/** A handler's answer with an output stream: served on a one-shot socket, sent as `streamURL`. */
export interface StreamOutput {
  result?: unknown
  stream: Readable | Uint8Array
}

/** A task handler: returns (or resolves with) the result, a `StreamOutput` or a Readable; throws for an error response. */
export type TaskHandler = (request: TaskRequest) => unknown

/** A handler's answer split into the result's JSON bytes and the stream to serve, if any. */
export interface Output {
  result: Buffer
  stream: Readable | undefined
}

const OUTPUT_KEYS: ReadonlySet<string> = new Set(['result', 'stream'])

/** Whether a handler's answer is a `StreamOutput`. */
export function isStreamOutput (value: unknown): value is StreamOutput {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false
  const stream = (value as { stream?: unknown }).stream
  if (!(stream instanceof Readable) && !(stream instanceof Uint8Array)) return false
  return Object.keys(value).every(key => OUTPUT_KEYS.has(key))
}

/** Splits a handler's answer (a bare Readable is a stream with a null result); throws `ERR_JSON_VALUE` when the result cannot be JSON. */
export function toOutput (value: unknown): Output {
  if (value instanceof Readable) return { result: jsonBytes(null, 'result'), stream: value }
  if (!isStreamOutput(value)) return { result: jsonBytes(value, 'result'), stream: undefined }
  const { stream } = value
  return {
    result: jsonBytes(value.result, 'result'),
    stream: stream instanceof Readable
      ? stream
      : Readable.from([Buffer.from(stream.buffer, stream.byteOffset, stream.byteLength)], { objectMode: false })
  }
}
