/**
 * The ingresses: how HTTP exchanges and unix frames become router calls, and how the
 * router's outcomes become HTTP answers (the one place where codes become statuses) or
 * ack frames.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { httpStatusOf } from './errors.js'
import { ackResponse, encodeResponse } from './message.js'
import { clientHostname } from './rewrite.js'
import type { Ingress, Outcome, Router } from './router.js'
import { readBody } from '../http/body.js'
import { sendBody, type RouteHandler } from '../http/server.js'

export interface BodyLimits {
  maxBodyBytes: number
  bodyTimeoutMs: number
}

type Handle = (router: Router, body: Buffer, ingress: Ingress) => Outcome | Promise<Outcome>

const handleRequest: Handle = (router, body, ingress) => router.handleRequest(body, ingress)
const handleResponse: Handle = (router, body, ingress) => router.handleResponse(body, ingress)

/** The external request route: every path and method no other route takes. */
export function httpRequestRoute (router: Router, limits: BodyLimits): RouteHandler {
  return httpRoute(router, limits, handleRequest)
}

/** `/proxy`: responses coming back from another coordinator. */
export function httpProxyRoute (router: Router, limits: BodyLimits): RouteHandler {
  return httpRoute(router, limits, handleResponse)
}

/** The internal request socket's handler: request frame in, ack frame out. */
export function unixRequestHandler (router: Router): (payload: Buffer) => Promise<Buffer> {
  const ingress: Ingress = { via: 'unix', client: '' }
  return async payload => encodeResponse((await router.handleRequest(payload, ingress)).ack, 'go')
}

/** The response socket's handler: response frame in, empty ack frame out. */
export function unixResponseHandler (router: Router): (payload: Buffer) => Promise<Buffer> {
  const ingress: Ingress = { via: 'unix', client: '' }
  return async payload => encodeResponse(router.handleResponse(payload, ingress).ack, 'go')
}

/** The ack a unix peer gets when it broke the framing (too large, too slow) or a handler failed. */
export function unixErrorAck (err: Error): Buffer {
  return encodeResponse(ackResponse('', err.message), 'go')
}

function httpRoute (router: Router, limits: BodyLimits, handle: Handle): RouteHandler {
  const opts = { maxBytes: limits.maxBodyBytes, timeoutMs: limits.bodyTimeoutMs }
  return (req, res) => {
    answerHttp(router, req, res, opts, handle).catch(() => {
      // The router answers every failure with an ack: this is the backstop for a bug, so
      // that it costs one exchange, never the process.
      sendBody(res, 500, INTERNAL_ERROR_ACK, 'application/json', true)
      if (!res.writableEnded) res.destroy()
    })
  }
}

const INTERNAL_ERROR_ACK = encodeResponse(ackResponse('', 'internal error'), 'go')

async function answerHttp (
  router: Router,
  req: IncomingMessage,
  res: ServerResponse,
  opts: { maxBytes: number, timeoutMs: number },
  handle: Handle
): Promise<void> {
  let body: Buffer
  try {
    body = await readBody(req, opts)
  } catch (err) {
    // The rest of the body is not read: the connection cannot be reused.
    const ack = encodeResponse(ackResponse('', (err as Error).message), 'go')
    sendBody(res, httpStatusOf(err), ack, 'application/json', true)
    return
  }
  const ingress: Ingress = { via: 'http', client: clientHostname(req.socket.remoteAddress) }
  const outcome = await handle(router, body, ingress)
  const status = outcome.code === undefined ? 200 : httpStatusOf(outcome)
  sendBody(res, status, encodeResponse(outcome.ack, 'go'))
}
