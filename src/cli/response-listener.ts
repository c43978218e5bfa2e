/**
 * The command-line client's own HTTP face: `POST /response` receives the response to its
 * one request (the response hook), and `GET /stream` serves the request's input stream,
 * once.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { ackResponse, decodeResponse, encodeResponse, type Response } from '../core/message.js'
import { readBody } from '../http/body.js'
import { ExternalServer, sendBody } from '../http/server.js'

/** Options of a ResponseListener. */
export interface ResponseListenerOptions {
  /** addresses to listen on, all on one port ('' = every interface); the first decides the port */
  hosts: readonly string[]
  /** 0: a free port */
  port: number
  /** the id of the request whose response is awaited */
  requestId: string
  /** what `GET /stream` serves, once; undefined: 404 */
  stream: Readable | undefined
  /** largest response body accepted */
  maxBodyBytes: number
  /** time to receive a whole HTTP request */
  bodyTimeoutMs: number
}

/** How long close() waits for exchanges in progress (a stream being read). */
const CLOSE_TIMEOUT_MS = 1_000

/** Listens for one response and serves one input stream. */
export class ResponseListener {
  readonly #o: ResponseListenerOptions
  readonly #servers: ExternalServer[] = []
  /** Resolves with the response whose id is the request's (others are refused). */
  readonly response: Promise<Response>
  #resolve!: (response: Response) => void
  #answered = false
  #streamServed = false
  #port = 0

  constructor (opts: ResponseListenerOptions) {
    this.#o = opts
    this.response = new Promise(resolve => { this.#resolve = resolve })
  }

  /** The bound port (known after listen()). */
  get port (): number {
    return this.#port
  }

  /**
   * Listens on every host, on one port. A second address that cannot be bound (no IPv6 on
   * this machine) is skipped; the first one must bind.
   */
  async listen (): Promise<number> {
    const [first, ...rest] = this.#o.hosts
    this.#port = await this.#listenOn(first ?? '', this.#o.port)
    for (const host of rest) {
      try {
        await this.#listenOn(host, this.#port)
      } catch {
        // an extra loopback address is a convenience, not a requirement
      }
    }
    return this.#port
  }

  /** Closes every listener (a stream being read gets a short grace period). */
  async close (): Promise<void> {
    await Promise.all(this.#servers.map(async s => { await s.close() }))
  }

  async #listenOn (host: string, port: number): Promise<number> {
    const server = new ExternalServer({
      host,
      port,
      routes: [
        { path: '/response', method: 'POST', handle: (req, res) => { void this.#onResponse(req, res) } },
        { path: '/stream', method: 'GET', handle: (req, res) => { void this.#onStream(req, res) } }
      ],
      fallback: (_req, res) => { sendBody(res, 404, ack('not found')) },
      headersTimeoutMs: this.#o.bodyTimeoutMs,
      requestTimeoutMs: this.#o.bodyTimeoutMs,
      keepAliveTimeoutMs: 1_000,
      closeTimeoutMs: CLOSE_TIMEOUT_MS
    })
    const bound = await server.listen()
    this.#servers.push(server)
    return bound
  }

  async #onResponse (req: IncomingMessage, res: ServerResponse): Promise<void> {
    let response: Response
    try {
      response = decodeResponse(await readBody(req, { maxBytes: this.#o.maxBodyBytes, timeoutMs: this.#o.bodyTimeoutMs }))
    } catch (err) {
      sendBody(res, 400, ack((err as Error).message), 'application/json', true)
      return
    }
    if (response.id !== this.#o.requestId) {
      sendBody(res, 404, ack(`no request with id ${JSON.stringify(response.id)} is waiting here`))
      return
    }
    if (this.#answered) {
      sendBody(res, 409, ack('this request was already answered'))
      return
    }
    this.#answered = true
    sendBody(res, 200, ack(''))
    this.#resolve(response)
  }

  async #onStream (_req: IncomingMessage, res: ServerResponse): Promise<void> {
    const source = this.#o.stream
    if (source === undefined) {
      sendBody(res, 404, ack('this request has no stream'))
      return
    }
    if (this.#streamServed) {
      sendBody(res, 410, ack('the stream was already read'))
      return
    }
    this.#streamServed = true
    res.writeHead(200, { 'Content-Type': 'application/octet-stream' })
    try {
      await pipeline(source, res)
    } catch {
      // res is destroyed by pipeline: the reader sees an aborted body, never a clean end
    }
  }
}

function ack (error: string): Buffer {
  return encodeResponse(ackResponse('', error), 'go')
}
