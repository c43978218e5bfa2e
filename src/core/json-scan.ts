/**
 * A strict, iterative JSON scanner over bytes: validates exactly RFC 8259 (what `JSON.parse`
 * accepts) without building values, and returns the raw byte spans of a top-level object's
 * members, so that opaque payloads (`args`, `result`) can be passed on byte for byte.
 *
 * Error messages follow Go's encoding/json scanner, which the wire samples show in acks.
 */

import { Buffer, isUtf8 } from 'node:buffer'
import { CoordinatorError } from './errors.js'

/** Default limit on nesting depth (Go's encoding/json uses the same). */
export const MAX_JSON_DEPTH = 10000

/** A member of the top-level object: its decoded key and the byte span of its raw value. */
export interface JsonMember {
  key: string
  /** offset of the value's first byte */
  start: number
  /** offset just past the value's last byte */
  end: number
}

/** The JSON type of a value. */
export type JsonType = 'object' | 'array' | 'string' | 'number' | 'boolean' | 'null'

/** What `scanJson` found: the top-level type, and the members when it is an object. */
export interface JsonScan {
  type: JsonType
  /** members in input order, duplicates included; empty unless `type` is 'object' */
  members: JsonMember[]
}

/** Options of `scanJson`. */
export interface JsonScanOptions {
  /** deepest nesting of arrays and objects accepted (default `MAX_JSON_DEPTH`) */
  maxDepth?: number
}

const QUOTE = 0x22
const BACKSLASH = 0x5c
const COMMA = 0x2c
const COLON = 0x3a
const OPEN_OBJECT = 0x7b
const CLOSE_OBJECT = 0x7d
const OPEN_ARRAY = 0x5b
const CLOSE_ARRAY = 0x5d

// Container kinds on the stack.
const IN_ARRAY = 0
const IN_OBJECT = 1

// 1 for the bytes that end the fast loop over string contents: '"', '\' and control characters.
const STRING_STOP = new Uint8Array(256)
for (let c = 0; c < 0x20; c++) STRING_STOP[c] = 1
STRING_STOP[QUOTE] = 1
STRING_STOP[BACKSLASH] = 1

function isWhitespace (c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09
}

function isDigit (c: number): boolean {
  return c >= 0x30 && c <= 0x39
}

function isHex (c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46)
}

// Go's quoteChar: how a byte is shown in a syntax error message. A byte >= 0x80 here is always
// a UTF-8 lead byte (the input was validated), which Go shows as the Latin-1 character.
function quoteChar (c: number): string {
  if (c === 0x27) return "'\\''"
  if (c === QUOTE) return "'\"'"
  if (c === 0x0a) return "'\\n'"
  if (c === 0x0d) return "'\\r'"
  if (c === 0x09) return "'\\t'"
  if (c < 0x20 || c === 0x7f) return "'\\x" + c.toString(16).padStart(2, '0') + "'"
  return "'" + String.fromCharCode(c) + "'"
}

function jsonError (message: string): CoordinatorError {
  return new CoordinatorError('ERR_MESSAGE_JSON', message)
}

function unexpectedEnd (): CoordinatorError {
  return jsonError('unexpected end of JSON input')
}

function invalidChar (c: number, context: string): CoordinatorError {
  return jsonError(`invalid character ${quoteChar(c)} ${context}`)
}

function asBuffer (bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

/** The JSON type of the value starting at `start` (which must be a scanned value's first byte). */
export function jsonTypeAt (bytes: Uint8Array, start: number): JsonType {
  switch (bytes[start]) {
    case OPEN_OBJECT: return 'object'
    case OPEN_ARRAY: return 'array'
    case QUOTE: return 'string'
    case 0x74: case 0x66: return 'boolean'
    case 0x6e: return 'null'
    default: return 'number'
  }
}

// Skips the string whose opening quote is at b[from]; returns the offset past the closing quote.
function skipString (b: Uint8Array, n: number, from: number): number {
  let j = from + 1
  for (;;) {
    while (j < n && STRING_STOP[b[j]!] === 0) j++
    if (j >= n) throw unexpectedEnd()
    const c = b[j]!
    if (c === QUOTE) return j + 1
    if (c !== BACKSLASH) throw invalidChar(c, 'in string literal')
    if (j + 1 >= n) throw unexpectedEnd()
    const e = b[j + 1]!
    if (e === 0x75) {
      for (let k = j + 2; k < j + 6; k++) {
        if (k >= n) throw unexpectedEnd()
        if (!isHex(b[k]!)) throw invalidChar(b[k]!, 'in \\u hexadecimal character escape')
      }
      j += 6
    } else if (e === QUOTE || e === BACKSLASH || e === 0x2f || e === 0x62 || e === 0x66 ||
               e === 0x6e || e === 0x72 || e === 0x74) {
      j += 2
    } else {
      throw invalidChar(e, 'in string escape code')
    }
  }
}

// Checks the literal `word` whose first letter is at b[i]; returns the offset past it.
function skipLiteral (b: Uint8Array, n: number, i: number, word: string): number {
  for (let k = 1; k < word.length; k++) {
    if (i + k >= n) throw unexpectedEnd()
    const c = b[i + k]!
    if (c !== word.charCodeAt(k)) throw invalidChar(c, `in literal ${word} (expecting ${quoteChar(word.charCodeAt(k))})`)
  }
  return i + word.length
}

// Skips the number starting at b[i] ('-' or a digit); returns the offset past it.
function skipNumber (b: Uint8Array, n: number, i: number): number {
  if (b[i] === 0x2d) {
    i++
    if (i >= n) throw unexpectedEnd()
    if (!isDigit(b[i]!)) throw invalidChar(b[i]!, 'in numeric literal')
  }
  // a leading 0 stands alone: what follows it is judged by the caller (`01` is an error there)
  if (b[i] === 0x30) i++
  else while (i < n && isDigit(b[i]!)) i++
  if (i < n && b[i] === 0x2e) {
    i++
    if (i >= n) throw unexpectedEnd()
    if (!isDigit(b[i]!)) throw invalidChar(b[i]!, 'after decimal point in numeric literal')
    while (i < n && isDigit(b[i]!)) i++
  }
  if (i < n && (b[i] === 0x65 || b[i] === 0x45)) {
    i++
    if (i < n && (b[i] === 0x2b || b[i] === 0x2d)) i++
    if (i >= n) throw unexpectedEnd()
    if (!isDigit(b[i]!)) throw invalidChar(b[i]!, 'in exponent of numeric literal')
    while (i < n && isDigit(b[i]!)) i++
  }
  return i
}

function skipWhitespace (b: Uint8Array, n: number, i: number): number {
  while (i < n && isWhitespace(b[i]!)) i++
  return i
}

// Strings up to this many bytes are decoded by hand when plain ASCII (cheaper than a native call).
const SHORT_STRING_BYTES = 48

/** Decodes the JSON string literal spanning b[from, to) (quotes included) that `scanJson` accepted. */
export function decodeJsonString (b: Uint8Array, from: number, to: number): string {
  if (to - from - 2 <= SHORT_STRING_BYTES) {
    let s = ''
    for (let k = from + 1; k < to - 1; k++) {
      const c = b[k]!
      if (c >= 0x80 || c === BACKSLASH) return decodeLongString(b, from, to)
      s += String.fromCharCode(c)
    }
    return s
  }
  return decodeLongString(b, from, to)
}

function decodeLongString (b: Uint8Array, from: number, to: number): string {
  const text = asBuffer(b).toString('utf8', from, to)
  return text.indexOf('\\') === -1 ? text.slice(1, -1) : JSON.parse(text) as string
}

/**
 * Validates `bytes` as one JSON text (whitespace around it allowed) and returns its top-level
 * type and, for an object, its members. Refuses invalid UTF-8 (`ERR_MESSAGE_UTF8`) and any
 * syntax error or nesting deeper than `maxDepth` (`ERR_MESSAGE_JSON`). Never recurses.
 */
export function scanJson (bytes: Uint8Array, options: JsonScanOptions = {}): JsonScan {
  if (!isUtf8(bytes)) throw new CoordinatorError('ERR_MESSAGE_UTF8', 'message is not valid UTF-8')
  const maxDepth = options.maxDepth ?? MAX_JSON_DEPTH
  const b = bytes
  const n = b.length
  const stack: number[] = []
  const members: JsonMember[] = []
  const type = n === 0 ? 'null' : jsonTypeAt(b, skipWhitespace(b, n, 0))
  let key = ''
  let start = 0
  let i = skipWhitespace(b, n, 0)

  for (;;) {
    // A value starts at b[i]; after it, `afterKey` says whether a member's key was just read.
    if (i >= n) throw unexpectedEnd()
    const c = b[i]!
    let afterKey = false
    if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      if (stack.length >= maxDepth) throw jsonError('exceeded max depth')
      i = skipWhitespace(b, n, i + 1)
      if (i >= n) throw unexpectedEnd()
      if (c === OPEN_OBJECT) {
        if (b[i] === CLOSE_OBJECT) {
          i++
        } else {
          stack.push(IN_OBJECT)
          afterKey = true
        }
      } else if (b[i] === CLOSE_ARRAY) {
        i++
      } else {
        stack.push(IN_ARRAY)
        continue
      }
    } else if (c === QUOTE) {
      i = skipString(b, n, i)
    } else if (c === 0x2d || isDigit(c)) {
      i = skipNumber(b, n, i)
    } else if (c === 0x74) {
      i = skipLiteral(b, n, i, 'true')
    } else if (c === 0x66) {
      i = skipLiteral(b, n, i, 'false')
    } else if (c === 0x6e) {
      i = skipLiteral(b, n, i, 'null')
    } else {
      throw invalidChar(c, 'looking for beginning of value')
    }

    // A value ended just before b[i]: close containers until one wants another member or element.
    while (!afterKey) {
      const depth = stack.length
      if (depth === 1 && stack[0] === IN_OBJECT) members.push({ key, start, end: i })
      i = skipWhitespace(b, n, i)
      if (depth === 0) {
        if (i < n) throw invalidChar(b[i]!, 'after top-level value')
        return { type, members }
      }
      if (i >= n) throw unexpectedEnd()
      const d = b[i]!
      if (stack[depth - 1] === IN_OBJECT) {
        if (d === COMMA) {
          i = skipWhitespace(b, n, i + 1)
          afterKey = true
        } else if (d === CLOSE_OBJECT) {
          stack.pop()
          i++
        } else {
          throw invalidChar(d, 'after object key:value pair')
        }
      } else if (d === COMMA) {
        i = skipWhitespace(b, n, i + 1)
        break
      } else if (d === CLOSE_ARRAY) {
        stack.pop()
        i++
      } else {
        throw invalidChar(d, 'after array element')
      }
    }
    if (!afterKey) continue

    // b[i] should open a member's key: read it and the ':' that follows.
    if (i >= n) throw unexpectedEnd()
    if (b[i] !== QUOTE) throw invalidChar(b[i]!, 'looking for beginning of object key string')
    const keyEnd = skipString(b, n, i)
    const top = stack.length === 1
    if (top) key = decodeJsonString(b, i, keyEnd)
    i = skipWhitespace(b, n, keyEnd)
    if (i >= n) throw unexpectedEnd()
    if (b[i] !== COLON) throw invalidChar(b[i]!, 'after object key')
    i = skipWhitespace(b, n, i + 1)
    if (top) start = i
  }
}
