/**
 * The external face: a `node:http` server with a small route table. Knows nothing of
 * messages: routes are handed in by the core.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'

/** Accept queue asked for; the kernel caps it at net.core.somaxconn. */
const LISTEN_BACKLOG = 4096

/** Handles one HTTP exchange; must answer (or destroy) `res`. */
export type RouteHandler = (req: IncomingMessage, res: ServerResponse) => void

/** A route: an exact path, for one method or (method undefined) for all. */
export interface Route {
  path: string
  method?: string
  handle: RouteHandler
}

export interface ExternalServerOptions {
  host: string
  port: number
  routes: readonly Route[]
  /** every request no route takes */
  fallback: RouteHandler
  /** time to receive the request headers (slowloris) */
  headersTimeoutMs: number
  /**
   * time to receive a request body once its headers are in. The routes enforce it while
   * reading the body (answering with their own 408); node:http's whole-request timeout is
   * only the backstop, set past headers + body so that it never races them.
   */
  requestTimeoutMs: number
  /** how long an idle keep-alive connection stays open */
  keepAliveTimeoutMs: number
  /** how long close() waits for exchanges in progress before cutting them */
  closeTimeoutMs: number
  /** largest body any route accepts: an `Expect: 100-continue` declaring more gets no 100 */
  maxBodyBytes?: number
}

// node:http checks the headers and request timeouts only every connectionsCheckingInterval
// (30 s by default), so a 10 s headers timeout could really be 40 s: check at a quarter of
// the shorter one, at most once a second.
const MAX_CHECK_INTERVAL_MS = 1000
const MIN_CHECK_INTERVAL_MS = 10

/** The HTTP server of the external port. */
export class ExternalServer {
  readonly #opts: ExternalServerOptions
  readonly #server: Server
  readonly #routes = new Map<string, Route[]>()
  #closing: Promise<void> | undefined

  constructor (opts: ExternalServerOptions) {
    this.#opts = opts
    for (const route of opts.routes) {
      const list = this.#routes.get(route.path) ?? []
      list.push(route)
      this.#routes.set(route.path, list)
    }
    this.#server = createServer({
      headersTimeout: opts.headersTimeoutMs,
      requestTimeout: opts.headersTimeoutMs + opts.requestTimeoutMs,
      keepAliveTimeout: opts.keepAliveTimeoutMs,
      connectionsCheckingInterval: checkInterval(opts.headersTimeoutMs, opts.requestTimeoutMs),
      noDelay: true,
      // a /stream response takes a whole 64 KiB read of its source before it says "wait"
      highWaterMark: 64 * 1024
    }, (req, res) => { this.#dispatch(req, res) })
    this.#server.on('clientError', serverOnClientError)
    this.#server.on('checkContinue', this.#serverOnCheckContinue)
  }

  /** Listens; resolves with the bound port (useful with port 0). */
  listen (): Promise<number> {
    return new Promise((resolve, reject) => {
      const server = this.#server
      const onError = (err: Error): void => { reject(err) }
      server.once('error', onError)
      const host = this.#opts.host === '' ? undefined : this.#opts.host
      // node's default accept queue (511) drops connections of a burst of new clients.
      server.listen({ port: this.#opts.port, host, backlog: LISTEN_BACKLOG }, () => {
        server.off('error', onError)
        resolve((server.address() as AddressInfo).port)
      })
    })
  }

  /** Stops accepting, lets exchanges in progress finish (bounded), closes every connection. */
  close (): Promise<void> {
    this.#closing ??= new Promise(resolve => {
      const server = this.#server
      if (!server.listening) { resolve(); return }
      const timer = setTimeout(() => { server.closeAllConnections() }, this.#opts.closeTimeoutMs)
      timer.unref()
      server.close(() => { clearTimeout(timer); resolve() })
      server.closeIdleConnections()
    })
    return this.#closing
  }

  // Without a listener node sends `100 Continue` to every such request, inviting a body it
  // will refuse. Over the limit, the route answers 413 from the Content-Length alone and
  // closes the connection, so the client never sends the body.
  #serverOnCheckContinue = (req: IncomingMessage, res: ServerResponse): void => {
    const max = this.#opts.maxBodyBytes
    if (max === undefined || !(Number(req.headers['content-length']) > max)) res.writeContinue()
    this.#dispatch(req, res)
  }

  #dispatch (req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? '/'
    const q = url.indexOf('?')
    const path = q === -1 ? url : url.slice(0, q)
    const routes = this.#routes.get(path)
    if (routes !== undefined) {
      for (const route of routes) {
        if (route.method === undefined || route.method === req.method) {
          route.handle(req, res)
          return
        }
      }
    }
    this.#opts.fallback(req, res)
  }
}

function checkInterval (headersTimeoutMs: number, requestTimeoutMs: number): number {
  const quarter = Math.floor(Math.min(headersTimeoutMs, requestTimeoutMs) / 4)
  return Math.min(MAX_CHECK_INTERVAL_MS, Math.max(MIN_CHECK_INTERVAL_MS, quarter))
}

/** Answers with a body and its length; JSON unless told otherwise. */
export function sendBody (
  res: ServerResponse,
  status: number,
  body: Buffer | string,
  contentType = 'application/json',
  close = false
): void {
  if (res.headersSent || res.destroyed) return
  const headers: Record<string, string | number> = {
    'Content-Type': contentType,
    'Content-Length': typeof body === 'string' ? Buffer.byteLength(body) : body.length
  }
  if (close) headers.Connection = 'close'
  res.writeHead(status, headers)
  res.end(body)
}

// A malformed request or a timeout of the headers: answer 400/408 if the socket can still
// take it, never let it reach the process as an uncaught error.
function serverOnClientError (err: Error & { code?: string }, socket: Socket): void {
  if (!socket.writable) { socket.destroy(); return }
  const status = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' || err.code === 'ERR_HTTP_HEADERS_TIMEOUT' ? 408 : 400
  const reason = status === 408 ? 'Request Timeout' : 'Bad Request'
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`)
}
