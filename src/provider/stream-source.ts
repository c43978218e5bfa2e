/**
 * Opening a stream URL for reading: a unix socket (connect, read to the end) or an http(s)
 * URL (GET, status 200, read the body). A source that fails mid-way errors the stream: it
 * never looks like a clean end of truncated data.
 */
import http from 'node:http'
import { connect, type Socket } from 'node:net'
import type { Readable } from 'node:stream'
import { formatUrl, type MsgUrl } from '../core/go-url.js'
import { connectErrorOf } from '../net/errors.js'
import { checkSocketPath } from '../net/socket-path.js'
import { StreamIdleError, StreamOpenError } from './errors.js'

/** Options of `openStream`. */
export interface OpenStreamOptions {
  /** time to connect and, for http(s), to receive the response headers */
  timeoutMs: number
  /** the stream errors with `ERR_STREAM_IDLE` when no byte arrives for this long; 0: never */
  idleTimeoutMs?: number
}

/** Bytes of an error body kept for the message. */
const MAX_ERROR_BODY_BYTES = 512

/** Opens `url` for reading; rejects with `ERR_STREAM_OPEN`. */
export function openStream (url: MsgUrl, opts: OpenStreamOptions): Promise<Readable> {
  if (url.scheme === 'unix') return openUnix(url.path, opts)
  if (url.scheme === 'http') return openHttp(http.get, url, opts)
  // node:https brings tls and crypto: loaded with the first https stream, not at start-up.
  if (url.scheme === 'https') return import('node:https').then(https => openHttp(https.get, url, opts))
  return Promise.reject(new StreamOpenError(`cannot open a stream with scheme ${JSON.stringify(url.scheme)}`))
}

function openUnix (path: string, opts: OpenStreamOptions): Promise<Readable> {
  return new Promise((resolve, reject) => {
    try {
      checkSocketPath(path)
    } catch (err) {
      reject(new StreamOpenError(`cannot open stream ${path}: ${(err as Error).message}`, err))
      return
    }
    const socket: Socket = connect({ path })
    const timer = setTimeout(function timerOnFire () {
      socket.destroy()
      reject(new StreamOpenError(`cannot open stream ${path}: no connection within ${opts.timeoutMs} ms`))
    }, opts.timeoutMs).unref()
    socket.once('connect', function socketOnConnect () {
      clearTimeout(timer)
      socket.off('error', socketOnConnectError)
      // Our side is left open: a serving peer that does not allow half-open connections
      // would take our FIN for the reader going away and stop writing.
      armIdleTimeout(socket, opts.idleTimeoutMs)
      resolve(socket)
    })
    socket.once('error', socketOnConnectError)
    function socketOnConnectError (err: Error): void {
      clearTimeout(timer)
      socket.destroy()
      const coded = connectErrorOf(err, path)
      reject(new StreamOpenError(`cannot open stream ${path}: ${coded.message}`, coded))
    }
  })
}

function openHttp (get: typeof http.get, url: MsgUrl, opts: OpenStreamOptions): Promise<Readable> {
  const href = formatUrl(url)
  return new Promise((resolve, reject) => {
    let target: URL
    try {
      target = new URL(href)
    } catch (err) {
      reject(new StreamOpenError(`cannot open stream ${href}: invalid URL`, err))
      return
    }
    let settled = false
    const req = get(target, { agent: false })
    const timer = setTimeout(function timerOnFire () {
      fail(new StreamOpenError(`cannot open stream ${href}: no answer within ${opts.timeoutMs} ms`))
    }, opts.timeoutMs).unref()

    function fail (err: StreamOpenError): void {
      if (settled) return
      settled = true
      clearTimeout(timer)
      req.destroy()
      reject(err)
    }

    req.once('error', function reqOnError (err: Error) {
      fail(new StreamOpenError(`cannot open stream ${href}: ${err.message}`, err))
    })
    req.once('response', function reqOnResponse (res: http.IncomingMessage) {
      if (settled) {
        res.destroy()
        return
      }
      if (res.statusCode !== 200) {
        readErrorBody(res, text => {
          fail(new StreamOpenError(`cannot open stream ${href}: status ${res.statusCode ?? 0}${text === '' ? '' : `: ${text}`}`))
        })
        return
      }
      settled = true
      clearTimeout(timer)
      armIdleTimeout(res, opts.idleTimeoutMs)
      resolve(res)
    })
  })
}

// Keeps the first bytes of an error answer for the message, then calls back once.
function readErrorBody (res: http.IncomingMessage, done: (text: string) => void): void {
  let text = ''
  let called = false
  const finish = (): void => {
    if (called) return
    called = true
    done(text.trim())
  }
  res.setEncoding('utf8')
  res.on('data', (chunk: string) => {
    if (text.length < MAX_ERROR_BODY_BYTES) text += chunk.slice(0, MAX_ERROR_BODY_BYTES - text.length)
  })
  res.once('end', finish)
  res.once('error', finish)
  res.once('close', finish)
}

function armIdleTimeout (stream: Socket | http.IncomingMessage, idleTimeoutMs: number | undefined): void {
  if (idleTimeoutMs === undefined || idleTimeoutMs <= 0) return
  const socket = 'socket' in stream ? stream.socket : stream
  socket.setTimeout(idleTimeoutMs)
  socket.once('timeout', function socketOnTimeout () {
    stream.destroy(new StreamIdleError(idleTimeoutMs))
  })
}
