/**
 * Bounded request-body reader: a size limit checked before and while reading, and a deadline
 * for the whole body.
 */
import type { IncomingMessage } from 'node:http'
import { BodyAbortedError, BodyTimeoutError, BodyTooLargeError } from './errors.js'

/** Limits of one body read. */
export interface ReadBodyOptions {
  /** largest body accepted, in bytes */
  maxBytes: number
  /** time allowed for the whole body, from the call to its last byte */
  timeoutMs: number
}

const EMPTY = Buffer.alloc(0)

/**
 * Reads a request body whole, refusing more than maxBytes and bodies slower than timeoutMs.
 *
 * Rejects with `ERR_BODY_TOO_LARGE` (at once when `Content-Length` is over the limit, else as
 * soon as the received bytes pass it), `ERR_BODY_TIMEOUT` or `ERR_BODY_ABORTED`. On a
 * rejection the rest of the body is left unread and the request is paused: the caller must
 * answer with `Connection: close` (every such error has `closeConnection: true`), or the
 * unread bytes would be taken for the next request on the connection.
 */
export function readBody (req: IncomingMessage, opts: ReadBodyOptions): Promise<Buffer> {
  const { maxBytes, timeoutMs } = opts
  const declared = req.headers['content-length']
  if (declared !== undefined) {
    // node's parser has already refused a malformed Content-Length.
    const size = Number(declared)
    if (size > maxBytes) {
      req.pause()
      return Promise.reject(new BodyTooLargeError(size, maxBytes, true))
    }
  }
  if (req.destroyed) return Promise.reject(new BodyAbortedError(0))

  return new Promise<Buffer>((resolve, reject) => {
    let first: Buffer | undefined
    let chunks: Buffer[] | undefined
    let received = 0
    let done = false

    const timer = setTimeout(timerOnTimeout, timeoutMs)
    timer.unref()
    req.on('data', reqOnData)
    req.on('end', reqOnEnd)
    req.on('error', reqOnError)
    req.on('close', reqOnClose)

    function finish (err: Error | undefined, body?: Buffer): void {
      done = true
      clearTimeout(timer)
      req.off('data', reqOnData)
      req.off('end', reqOnEnd)
      req.off('error', reqOnError)
      req.off('close', reqOnClose)
      first = undefined
      chunks = undefined
      if (err !== undefined) {
        // Stop the flow: removing 'data' listeners alone leaves the stream flowing.
        req.pause()
        reject(err)
      } else {
        resolve(body ?? EMPTY)
      }
    }

    function reqOnData (chunk: Buffer): void {
      if (done) return
      received += chunk.length
      if (received > maxBytes) return finish(new BodyTooLargeError(received, maxBytes, false))
      if (first === undefined) first = chunk
      else if (chunks === undefined) chunks = [first, chunk]
      else chunks.push(chunk)
    }

    function reqOnEnd (): void {
      if (done) return
      finish(undefined, chunks !== undefined ? Buffer.concat(chunks, received) : first)
    }

    function reqOnError (err: Error): void {
      if (done) return
      finish(new BodyAbortedError(received, err))
    }

    function reqOnClose (): void {
      // 'close' before 'end' means the body never completed.
      if (done) return
      finish(new BodyAbortedError(received))
    }

    function timerOnTimeout (): void {
      if (done) return
      finish(new BodyTimeoutError(timeoutMs, received))
    }
  })
}
