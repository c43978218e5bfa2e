/**
 * Length-prefixed frames (SPEC 2.3): a 4-byte unsigned big-endian length, then that many bytes.
 * The decoder is a plain class fed with `push(chunk)`; socket wiring lives in the server and client.
 */
import { FrameTooLargeError } from './errors.js'

/** Bytes of the length header in front of every frame. */
export const FRAME_HEADER_BYTES = 4
/** Default limit on a frame's payload. */
export const MAX_FRAME_BYTES = 16 * 1024 * 1024

const MAX_U32 = 0xffffffff

const READ_HEADER = 0
const READ_BODY = 1
const STOPPED = 2
const FAILED = 3

/** Frames a payload: one buffer holding the header and the payload. */
export function encodeFrame (payload: Buffer): Buffer {
  const n = payload.length
  if (n > MAX_U32) throw new FrameTooLargeError(n, MAX_U32)
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + n)
  out.writeUInt32BE(n, 0)
  payload.copy(out, FRAME_HEADER_BYTES)
  return out
}

/** Writes one frame; returns `write()`'s result (false: wait for 'drain'). */
export function writeFrame (socket: { write (chunk: Buffer): boolean }, payload: Buffer): boolean {
  return socket.write(encodeFrame(payload))
}

/** Options of a FrameDecoder. */
export interface FrameDecoderOptions {
  /** largest payload accepted; a longer declared length fails the decoder */
  maxFrameBytes?: number
  /** called once per complete frame, in order */
  onFrame: (payload: Buffer) => void
}

/**
 * Incremental frame decoder. `push()` throws a NetError `ERR_FRAME_TOO_LARGE` as soon as a
 * header declares too much; the decoder then stays failed and every later push throws the same
 * error, because a byte stream cannot resynchronise.
 */
export class FrameDecoder {
  readonly #max: number
  readonly #onFrame: (payload: Buffer) => void
  // Unconsumed input: #chunks[0] starts at #offset, the others are whole.
  #chunks: Buffer[] = []
  #offset = 0
  #buffered = 0
  #state = READ_HEADER
  #need = FRAME_HEADER_BYTES
  #error: Error | undefined

  constructor ({ maxFrameBytes = MAX_FRAME_BYTES, onFrame }: FrameDecoderOptions) {
    this.#max = maxFrameBytes
    this.#onFrame = onFrame
  }

  /** Bytes received and not yet delivered as a frame. */
  get bufferedBytes (): number {
    return this.#buffered
  }

  /** True when a frame has begun (header or body bytes) but is not complete. */
  get midFrame (): boolean {
    return this.#state === READ_BODY || (this.#state === READ_HEADER && this.#buffered > 0)
  }

  /** Feeds bytes; delivers every frame they complete. */
  push (chunk: Buffer): void {
    if (this.#state >= STOPPED) {
      if (this.#error !== undefined) throw this.#error
      return
    }
    if (chunk.length === 0) return
    this.#chunks.push(chunk)
    this.#buffered += chunk.length
    while (this.#buffered >= this.#need) {
      if (this.#state === READ_HEADER) {
        const len = this.#readHeader()
        if (len > this.#max) {
          this.#error = new FrameTooLargeError(len, this.#max)
          this.#drop(FAILED)
          throw this.#error
        }
        this.#state = READ_BODY
        this.#need = len
      } else {
        const payload = this.#take(this.#need)
        this.#state = READ_HEADER
        this.#need = FRAME_HEADER_BYTES
        this.#onFrame(payload)
        // onFrame may have called stop()
        if (this.#state !== READ_HEADER) return
      }
    }
  }

  /** Stops decoding for good: buffered bytes are dropped and later pushes are ignored. */
  stop (): void {
    if (this.#state < STOPPED) this.#drop(STOPPED)
  }

  #drop (state: number): void {
    this.#state = state
    this.#chunks = []
    this.#offset = 0
    this.#buffered = 0
  }

  #readHeader (): number {
    const first = this.#chunks[0] as Buffer
    if (first.length - this.#offset >= FRAME_HEADER_BYTES) {
      const len = first.readUInt32BE(this.#offset)
      this.#advance(first, FRAME_HEADER_BYTES)
      return len
    }
    return this.#copyOut(FRAME_HEADER_BYTES).readUInt32BE(0)
  }

  // Caller guarantees n <= #buffered.
  #take (n: number): Buffer {
    if (n === 0) return Buffer.alloc(0)
    const first = this.#chunks[0] as Buffer
    if (first.length - this.#offset >= n) {
      // fast path: the frame sits inside one chunk, hand out a view without copying
      const out = first.subarray(this.#offset, this.#offset + n)
      this.#advance(first, n)
      return out
    }
    return this.#copyOut(n)
  }

  #advance (first: Buffer, n: number): void {
    this.#buffered -= n
    this.#offset += n
    if (this.#offset === first.length) {
      this.#chunks.shift()
      this.#offset = 0
    }
  }

  #copyOut (n: number): Buffer {
    const out = Buffer.allocUnsafe(n)
    const chunks = this.#chunks
    let filled = 0
    let i = 0
    let offset = this.#offset
    while (filled < n) {
      const chunk = chunks[i] as Buffer
      const take = Math.min(chunk.length - offset, n - filled)
      chunk.copy(out, filled, offset, offset + take)
      filled += take
      offset += take
      if (offset === chunk.length) {
        i++
        offset = 0
      }
    }
    // one splice rather than a shift per chunk: a body fed in tiny chunks stays linear
    if (i > 0) chunks.splice(0, i)
    this.#offset = offset
    this.#buffered -= n
    return out
  }
}
