/**
 * A strict incremental parser of HTTP/1.x responses, fed with `push(chunk)`: the status
 * line, the headers that frame the body, and a body delimited by Content-Length, by the
 * chunked coding or by the end of the connection; 1xx interim responses are skipped.
 */
import { ReplyParseError } from './errors.js'

/** Longest header section (status line and headers, or the trailers) accepted, in bytes. */
export const MAX_HEADER_BYTES = 16 * 1024

// States: reading a line (status, header, chunk size, trailer) or body bytes.
const STATUS_LINE = 0
const HEADER_LINE = 1
const BODY_LENGTH = 2
const BODY_UNTIL_CLOSE = 3
const CHUNK_SIZE_LINE = 4
const CHUNK_DATA = 5
const CHUNK_DATA_CR = 6
const CHUNK_DATA_LF = 7
const TRAILER_LINE = 8
const COMPLETE = 9

// What the previous header line was, to judge an obs-fold continuation line.
const FIELD_NONE = 0
const FIELD_OTHER = 1
const FIELD_FRAMING = 2

const HTAB = 0x09
const LF = 0x0a
const CR = 0x0d
const SP = 0x20
const COMMA = 0x2c
const COLON = 0x3a
const SEMICOLON = 0x3b

// Content-Length above 2^53 cannot be counted exactly; no hook reply comes near it.
const MAX_LENGTH_DIGITS = 15
const MAX_CHUNK_SIZE_DIGITS = 13

const EMPTY = Buffer.alloc(0)
const HTTP_1_PREFIX = [0x48, 0x54, 0x54, 0x50, 0x2f, 0x31, 0x2e] // HTTP/1.

// tchar (RFC 9110 5.6.2): the bytes of a header name.
const TOKEN = new Uint8Array(256)
for (const c of "!#$%&'*+-.^_`|~") TOKEN[c.charCodeAt(0)] = 1
for (let c = 0x30; c <= 0x39; c++) TOKEN[c] = 1
for (let c = 0x41; c <= 0x5a; c++) { TOKEN[c] = 1; TOKEN[c + 0x20] = 1 }

// HTAB, SP, VCHAR and obs-text (RFC 9110 5.5): the bytes of a field value or reason phrase.
const FIELD_BYTE = new Uint8Array(256)
FIELD_BYTE[HTAB] = 1
for (let c = SP; c < 256; c++) if (c !== 0x7f) FIELD_BYTE[c] = 1

// Value of a hex digit, -1 for any other byte.
const HEX = new Int8Array(256).fill(-1)
for (let c = 0; c < 10; c++) HEX[0x30 + c] = c
for (let c = 0; c < 6; c++) { HEX[0x41 + c] = 10 + c; HEX[0x61 + c] = 10 + c }

/** Parses one response at a time on a connection; `reset()` before each. Throws `ReplyParseError`. */
export class ResponseParser {
  /** status code of the final (non-1xx) response, once its head is parsed */
  status = 0
  /** whether the connection may carry another request after this response */
  keepAlive = false
  /** bytes that followed the complete response in the chunk that completed it */
  extraBytes = 0
  #state = COMPLETE
  #maxBody = 0
  // A line split across chunks is assembled here (allocated on first need).
  #line: Buffer | undefined
  #lineLength = 0
  #sectionBytes = 0
  #minor = 1
  #contentLength = -1
  #transferEncoding = ''
  #connectionClose = false
  #connectionKeepAlive = false
  #lastField = FIELD_NONE
  #remaining = 0
  #kept = 0
  #first: Buffer | undefined
  #pieces: Buffer[] | undefined
  #body: Buffer = EMPTY

  /** Prepares for the next response; its body is kept up to `maxBodyBytes`, the rest dropped. */
  reset (maxBodyBytes: number): void {
    this.#state = STATUS_LINE
    this.#maxBody = maxBodyBytes
    this.#lineLength = 0
    this.#startHead()
    this.status = 0
    this.keepAlive = false
    this.extraBytes = 0
    this.#kept = 0
    this.#first = undefined
    this.#pieces = undefined
    this.#body = EMPTY
  }

  /** The kept body of the complete response. */
  get body (): Buffer {
    return this.#body
  }

  /** Whether the response is complete. */
  get complete (): boolean {
    return this.#state === COMPLETE
  }

  /**
   * Consumes `chunk`; true once the response is complete, with `extraBytes` left unread.
   * After a throw the connection's byte stream cannot be resynchronised.
   */
  push (chunk: Buffer): boolean {
    const end = chunk.length
    let off = 0
    while (off < end) {
      switch (this.#state) {
        case BODY_LENGTH:
        case CHUNK_DATA: {
          const n = Math.min(this.#remaining, end - off)
          this.#keep(chunk, off, off + n)
          off += n
          this.#remaining -= n
          if (this.#remaining > 0) return false
          if (this.#state === CHUNK_DATA) {
            this.#state = CHUNK_DATA_CR
          } else {
            this.#finish()
            this.extraBytes = end - off
            return true
          }
          break
        }
        case BODY_UNTIL_CLOSE:
          this.#keep(chunk, off, end)
          return false
        case CHUNK_DATA_CR:
          if (chunk[off++] !== CR) throw new ReplyParseError('chunk data not followed by CRLF')
          this.#state = CHUNK_DATA_LF
          break
        case CHUNK_DATA_LF:
          if (chunk[off++] !== LF) throw new ReplyParseError('chunk data not followed by CRLF')
          this.#state = CHUNK_SIZE_LINE
          break
        case COMPLETE:
          throw new ReplyParseError('bytes after the end of the response')
        default: {
          // A loop, not indexOf(): lines are short, and a call into C++ per line costs more.
          let lf = off
          while (lf < end && chunk[lf] !== LF) lf++
          if (lf === end) {
            this.#stash(chunk, off, end)
            return false
          }
          if (this.#lineLength === 0) {
            this.#onLine(chunk, off, lf + 1)
          } else {
            this.#stash(chunk, off, lf + 1)
            const length = this.#lineLength
            this.#lineLength = 0
            this.#onLine(this.#line as Buffer, 0, length)
          }
          off = lf + 1
          if (this.#state === COMPLETE) {
            this.extraBytes = end - off
            return true
          }
        }
      }
    }
    return false
  }

  /**
   * The connection ended: true when that completes the response (a body delimited by the
   * close); false when the response is cut short (or never started).
   */
  end (): boolean {
    if (this.#state !== BODY_UNTIL_CLOSE) return this.#state === COMPLETE
    this.#finish()
    return true
  }

  #startHead (): void {
    this.#sectionBytes = 0
    this.#contentLength = -1
    this.#transferEncoding = ''
    this.#connectionClose = false
    this.#connectionKeepAlive = false
    this.#lastField = FIELD_NONE
  }

  // Keeps the start of a line that continues in the next chunk.
  #stash (chunk: Buffer, start: number, end: number): void {
    const n = end - start
    const limit = this.#state === CHUNK_SIZE_LINE ? MAX_HEADER_BYTES : MAX_HEADER_BYTES - this.#sectionBytes
    if (this.#lineLength + n > limit) throw this.#tooLong()
    if (this.#line === undefined) this.#line = Buffer.allocUnsafe(MAX_HEADER_BYTES)
    chunk.copy(this.#line, this.#lineLength, start, end)
    this.#lineLength += n
  }

  #tooLong (): ReplyParseError {
    return this.#state === CHUNK_SIZE_LINE
      ? new ReplyParseError(`chunk size line over ${MAX_HEADER_BYTES} B`)
      : new ReplyParseError(`header section over ${MAX_HEADER_BYTES} B`)
  }

  // One line, from start to just past its LF.
  #onLine (buf: Buffer, start: number, end: number): void {
    if (this.#state === CHUNK_SIZE_LINE) {
      if (end - start > MAX_HEADER_BYTES) throw this.#tooLong()
    } else {
      this.#sectionBytes += end - start
      if (this.#sectionBytes > MAX_HEADER_BYTES) throw this.#tooLong()
    }
    // Lines end with CRLF; a bare LF is refused (RFC 9112 2.2 allows either choice).
    if (end - start < 2 || buf[end - 2] !== CR) throw new ReplyParseError('line not ended by CRLF')
    const last = end - 2
    switch (this.#state) {
      case STATUS_LINE:
        this.#onStatusLine(buf, start, last)
        break
      case HEADER_LINE:
        if (last === start) this.#onHeadEnd()
        else this.#onFieldLine(buf, start, last, false)
        break
      case CHUNK_SIZE_LINE:
        this.#onChunkSizeLine(buf, start, last)
        break
      default:
        if (last === start) this.#finish()
        else this.#onFieldLine(buf, start, last, true)
    }
  }

  // HTTP/1.x SP 3DIGIT [SP reason-phrase]: the SP before an empty reason is optional in practice.
  #onStatusLine (buf: Buffer, start: number, end: number): void {
    if (end - start < 12) throw new ReplyParseError('malformed status line')
    for (let i = 0; i < HTTP_1_PREFIX.length; i++) {
      if (buf[start + i] !== HTTP_1_PREFIX[i]) throw new ReplyParseError('malformed status line')
    }
    const minor = buf[start + 7]! - 0x30
    const d0 = buf[start + 9]! - 0x30
    const d1 = buf[start + 10]! - 0x30
    const d2 = buf[start + 11]! - 0x30
    if ((minor !== 0 && minor !== 1) || buf[start + 8] !== SP ||
        d0 < 1 || d0 > 9 || d1 < 0 || d1 > 9 || d2 < 0 || d2 > 9 ||
        (end - start > 12 && buf[start + 12] !== SP)) {
      throw new ReplyParseError('malformed status line')
    }
    for (let i = start + 13; i < end; i++) {
      if (FIELD_BYTE[buf[i]!] === 0) throw new ReplyParseError('invalid character in the reason phrase')
    }
    this.#minor = minor
    this.status = d0 * 100 + d1 * 10 + d2
    this.#state = HEADER_LINE
  }

  #onFieldLine (buf: Buffer, start: number, end: number, trailer: boolean): void {
    const first = buf[start]
    if (first === SP || first === HTAB) {
      // obs-fold continues the previous field: harmless on a field we ignore, but it must not
      // change one that frames the body.
      if (this.#lastField !== FIELD_OTHER) throw new ReplyParseError('folded header line')
      for (let i = start; i < end; i++) {
        if (FIELD_BYTE[buf[i]!] === 0) throw new ReplyParseError('invalid character in a header value')
      }
      return
    }
    let colon = start
    while (colon < end && TOKEN[buf[colon]!] === 1) colon++
    if (colon === start || colon === end || buf[colon] !== COLON) throw new ReplyParseError('malformed header line')
    let from = colon + 1
    let to = end
    while (from < to && (buf[from] === SP || buf[from] === HTAB)) from++
    while (to > from && (buf[to - 1] === SP || buf[to - 1] === HTAB)) to--
    for (let i = from; i < to; i++) {
      if (FIELD_BYTE[buf[i]!] === 0) throw new ReplyParseError('invalid character in a header value')
    }
    this.#lastField = FIELD_OTHER
    if (trailer) return
    const nameLength = colon - start
    if (nameLength === 14 && sameName(buf, start, 'content-length')) {
      this.#lastField = FIELD_FRAMING
      this.#onContentLength(buf, from, to)
    } else if (nameLength === 17 && sameName(buf, start, 'transfer-encoding')) {
      this.#lastField = FIELD_FRAMING
      const value = buf.toString('latin1', from, to).toLowerCase()
      this.#transferEncoding = this.#transferEncoding === '' ? value : `${this.#transferEncoding},${value}`
    } else if (nameLength === 10 && sameName(buf, start, 'connection')) {
      this.#lastField = FIELD_FRAMING
      this.#onConnection(buf, from, to)
    }
  }

  // A list of options; only close and keep-alive matter here.
  #onConnection (buf: Buffer, from: number, to: number): void {
    let i = from
    while (i < to) {
      while (i < to && (buf[i] === SP || buf[i] === HTAB || buf[i] === COMMA)) i++
      const optionFrom = i
      while (i < to && buf[i] !== COMMA) i++
      let optionTo = i
      while (optionTo > optionFrom && (buf[optionTo - 1] === SP || buf[optionTo - 1] === HTAB)) optionTo--
      const length = optionTo - optionFrom
      if (length === 5 && sameName(buf, optionFrom, 'close')) this.#connectionClose = true
      else if (length === 10 && sameName(buf, optionFrom, 'keep-alive')) this.#connectionKeepAlive = true
    }
  }

  // 1*DIGIT, or a list of equal values (RFC 9110 8.6); any other repeat is a framing conflict.
  #onContentLength (buf: Buffer, from: number, to: number): void {
    let i = from
    for (;;) {
      let value = 0
      const digitsFrom = i
      while (i < to && buf[i]! >= 0x30 && buf[i]! <= 0x39) value = value * 10 + buf[i++]! - 0x30
      if (i === digitsFrom || i - digitsFrom > MAX_LENGTH_DIGITS) throw new ReplyParseError('invalid Content-Length')
      if (this.#contentLength !== -1 && this.#contentLength !== value) throw new ReplyParseError('conflicting Content-Length values')
      this.#contentLength = value
      while (i < to && (buf[i] === SP || buf[i] === HTAB)) i++
      if (i === to) return
      if (buf[i++] !== COMMA) throw new ReplyParseError('invalid Content-Length')
      while (i < to && (buf[i] === SP || buf[i] === HTAB)) i++
    }
  }

  #onHeadEnd (): void {
    const status = this.status
    if (status < 200) {
      // Nothing here asks to switch protocols: a 101 cannot be followed as HTTP/1.
      if (status === 101) throw new ReplyParseError('unexpected 101 Switching Protocols')
      this.#startHead()
      this.#state = STATUS_LINE
      return
    }
    this.keepAlive = this.#minor === 1 ? !this.#connectionClose : this.#connectionKeepAlive && !this.#connectionClose
    if (status === 204 || status === 304) {
      this.#finish()
    } else if (this.#transferEncoding !== '') {
      this.#onTransferEncoding()
    } else if (this.#contentLength > 0) {
      this.#remaining = this.#contentLength
      this.#state = BODY_LENGTH
    } else if (this.#contentLength === 0) {
      this.#finish()
    } else {
      this.keepAlive = false
      this.#state = BODY_UNTIL_CLOSE
    }
  }

  // Both framings at once, or Transfer-Encoding in HTTP/1.0, is how responses are smuggled
  // (RFC 9112 6.1, 6.3): refused rather than guessed.
  #onTransferEncoding (): void {
    if (this.#contentLength !== -1) throw new ReplyParseError('both Transfer-Encoding and Content-Length')
    if (this.#minor === 0) throw new ReplyParseError('Transfer-Encoding in an HTTP/1.0 response')
    const codings = this.#transferEncoding.split(',')
    for (let i = 0; i < codings.length; i++) {
      const coding = (codings[i] as string).trim()
      if (coding === '') throw new ReplyParseError('invalid Transfer-Encoding')
      if (coding === 'chunked') {
        if (i !== codings.length - 1) throw new ReplyParseError('chunked is not the last transfer coding')
        this.#state = CHUNK_SIZE_LINE
        return
      }
    }
    // A coding other than chunked last: the body ends with the connection (RFC 9112 6.3).
    this.keepAlive = false
    this.#state = BODY_UNTIL_CLOSE
  }

  // chunk-size [BWS ; chunk-ext]: extensions are checked for stray bytes and ignored.
  #onChunkSizeLine (buf: Buffer, start: number, end: number): void {
    let size = 0
    let i = start
    while (i < end && HEX[buf[i]!]! >= 0) size = size * 16 + HEX[buf[i++]!]!
    if (i === start || i - start > MAX_CHUNK_SIZE_DIGITS) throw new ReplyParseError('invalid chunk size')
    while (i < end && (buf[i] === SP || buf[i] === HTAB)) i++
    if (i < end) {
      if (buf[i] !== SEMICOLON) throw new ReplyParseError('invalid chunk size')
      for (; i < end; i++) {
        if (FIELD_BYTE[buf[i]!] === 0) throw new ReplyParseError('invalid character in a chunk extension')
      }
    }
    if (size === 0) {
      this.#sectionBytes = 0
      this.#lastField = FIELD_NONE
      this.#state = TRAILER_LINE
    } else {
      this.#remaining = size
      this.#state = CHUNK_DATA
    }
  }

  #keep (chunk: Buffer, start: number, end: number): void {
    if (this.#kept >= this.#maxBody || start === end) return
    if (end - start > this.#maxBody - this.#kept) end = start + this.#maxBody - this.#kept
    const piece = chunk.subarray(start, end)
    this.#kept += piece.length
    if (this.#first === undefined) this.#first = piece
    else if (this.#pieces === undefined) this.#pieces = [this.#first, piece]
    else this.#pieces.push(piece)
  }

  #finish (): void {
    this.#state = COMPLETE
    if (this.#pieces !== undefined) this.#body = Buffer.concat(this.#pieces, this.#kept)
    else if (this.#first !== undefined) this.#body = this.#first
    this.#first = undefined
    this.#pieces = undefined
  }
}

// Compares a header name with a lowercase literal, ignoring ASCII case.
function sameName (buf: Buffer, start: number, lower: string): boolean {
  for (let i = 0; i < lower.length; i++) {
    if ((buf[start + i]! | 0x20) !== lower.charCodeAt(i)) return false
  }
  return true
}
