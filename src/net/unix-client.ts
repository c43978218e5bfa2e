/**
 * Unix socket client for one exchange: connect, write one frame, read one frame back, close.
 */
import { connect, type Socket } from 'node:net'
import {
  ConnectionClosedError, ExchangeTimeoutError, FrameTruncatedError, type NetError, connectErrorOf
} from './errors.js'
import { FrameDecoder, MAX_FRAME_BYTES, encodeFrame } from './frame.js'
import { checkSocketPath } from './socket-path.js'

/** Options of one exchange. */
export interface ExchangeOptions {
  /** bound on the whole exchange, connect included */
  timeoutMs: number
  /** largest answer payload accepted; default MAX_FRAME_BYTES */
  maxFrameBytes?: number
}

/** Connects to path, writes one frame, reads one frame back, closes. */
export function exchange (path: string, payload: Buffer, opts: ExchangeOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let frame: Buffer
    try {
      checkSocketPath(path)
      frame = encodeFrame(payload)
    } catch (err) {
      reject(err)
      return
    }
    let settled = false
    let connected = false
    let socket: Socket | undefined = undefined
    const decoder = new FrameDecoder({
      maxFrameBytes: opts.maxFrameBytes ?? MAX_FRAME_BYTES,
      onFrame: function decoderOnFrame (answer: Buffer) { settle(undefined, answer) }
    })
    const timer = setTimeout(function timerOnFire () {
      settle(new ExchangeTimeoutError(opts.timeoutMs))
    }, opts.timeoutMs).unref()

    function settle (err: NetError | undefined, answer?: Buffer): void {
      if (settled) return
      settled = true
      clearTimeout(timer)
      decoder.stop()
      // The socket is dropped with its listeners; 'error' stays handled so a late EPIPE is harmless.
      socket?.destroy()
      if (err !== undefined) reject(err)
      else resolve(answer as Buffer)
    }

    function closedError (cause?: unknown): NetError {
      const detail = decoder.midFrame
        ? new FrameTruncatedError(decoder.bufferedBytes).message + ' (ERR_FRAME_TRUNCATED)'
        : connected ? 'no answer bytes' : 'closed while connecting'
      return new ConnectionClosedError(detail, cause)
    }

    socket = connect({ path })
    socket.on('connect', function socketOnConnect () { connected = true })
    socket.on('data', function socketOnData (chunk: Buffer) {
      try {
        decoder.push(chunk)
      } catch (err) {
        settle(err as NetError)
      }
    })
    // 'end' comes before 'close' and carries no error; a reset arrives as 'error' first.
    // Each checks `settled` itself: after a normal answer, 'close' always follows, and
    // building an error (with its stack) for nothing would cost every exchange.
    socket.on('end', function socketOnEnd () { if (!settled) settle(closedError()) })
    socket.on('error', function socketOnError (err: Error) {
      if (!settled) settle(connected ? closedError(err) : connectErrorOf(err, path))
    })
    socket.on('close', function socketOnClose () { if (!settled) settle(closedError()) })
    // queued by the socket until connected
    socket.write(frame)
  })
}
