/**
 * JSON payloads of the provider kit: values become JSON text once, and `RawJson` carries a
 * text that must pass on byte for byte (64-bit integers, key order, a result relayed as is).
 */
import { Buffer } from 'node:buffer'
import { scanJson } from '../core/json-scan.js'
import { JsonValueError } from './errors.js'

/** A JSON text passed on verbatim, in place of a value to serialise. */
export class RawJson {
  readonly bytes: Buffer
  /** @internal use `rawJson()`, which validates the text */
  constructor (bytes: Buffer) {
    this.bytes = bytes
  }
}

/** Wraps a JSON text to be sent verbatim; throws `ERR_JSON_VALUE` if it is not valid JSON. */
export function rawJson (text: string | Buffer): RawJson {
  const bytes = typeof text === 'string' ? Buffer.from(text) : text
  try {
    scanJson(bytes)
  } catch (err) {
    throw new JsonValueError(`not a JSON text: ${(err as Error).message}`, err)
  }
  const trimmed = trimWhitespace(bytes)
  if (trimmed.length === 0) throw new JsonValueError('not a JSON text: empty')
  return new RawJson(trimmed)
}

/** The JSON bytes of a value: `RawJson` as is, `undefined` as `null`, anything else stringified. */
export function jsonBytes (value: unknown, what: string): Buffer {
  if (value instanceof RawJson) return value.bytes
  if (value === undefined) return Buffer.from('null')
  let text: string | undefined
  try {
    text = JSON.stringify(value)
  } catch (err) {
    throw new JsonValueError(`${what} cannot be written as JSON: ${(err as Error).message}`, err)
  }
  // JSON.stringify answers undefined for a function or a symbol
  if (text === undefined) throw new JsonValueError(`${what} cannot be written as JSON: ${typeof value}`)
  return Buffer.from(text)
}

/** Parses JSON bytes; a `null` payload (absent args or result) gives `null`. */
export function parseJsonBytes (bytes: Buffer): unknown {
  return JSON.parse(bytes.toString('utf8'))
}

function isSpace (c: number | undefined): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09
}

function trimWhitespace (bytes: Buffer): Buffer {
  let start = 0
  let end = bytes.length
  while (start < end && isSpace(bytes[start])) start++
  while (end > start && isSpace(bytes[end - 1])) end--
  return start === 0 && end === bytes.length ? bytes : bytes.subarray(start, end)
}
