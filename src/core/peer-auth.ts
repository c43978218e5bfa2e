/**
 * The optional bearer token (`auth_token_file`): loading it, guarding the external routes
 * with it, and deciding which outgoing posts carry it.
 *
 * Coordinators that forward to each other share one token. It goes out only to peers: on
 * every forward (a POST to another coordinator), and on a response delivered to the
 * `/proxy` hook of a request that a peer forwarded here. A request's hook counts as that
 * only when it is `/proxy` on the very host the request came from: the token then goes back
 * to the machine that presented it, never to a third-party hook some client named.
 */
import { CoordinatorError, httpStatusOf } from './errors.js'
import { ConfigError } from './config.js'
import { splitHostPort, type MsgUrl } from './go-url.js'
import type { Logger } from './log.js'
import { ackResponse, encodeResponse } from './message.js'
import type { Ingress } from './router.js'
import { BearerToken, readTokenFile, requireBearer } from '../http/auth.js'
import { sendBody, type RouteHandler } from '../http/server.js'

const TEXT = 'text/plain; charset=utf-8'
const UNAUTHORIZED = new CoordinatorError('ERR_UNAUTHORIZED', 'unauthorized')

/**
 * Reads the token of `auth_token_file` ('' = no token: every endpoint open, as in the
 * original). A missing, unreadable or empty file is a ConfigError.
 */
export function loadAuthToken (file: string, log: Logger): BearerToken | undefined {
  if (file === '') return undefined
  let read
  try {
    read = readTokenFile(file)
  } catch (err) {
    throw new ConfigError(`auth_token_file ${(err as Error).message}`)
  }
  if (read.worldReadable) log.warn('auth token file is readable by every user', { file })
  return new BearerToken(read.token)
}

/** How a guarded route answers a request without the token: a JSON ack, or a line of text. */
export type DenyForm = 'json' | 'text'

/**
 * The route as is without a token; with one, requests lacking it get 401 and `onDenied`
 * runs. The body of a refused request is not read: the connection is closed after the answer.
 */
export function guardRoute (
  token: BearerToken | undefined,
  handle: RouteHandler,
  form: DenyForm,
  onDenied?: () => void
): RouteHandler {
  if (token === undefined) return handle
  const status = httpStatusOf(UNAUTHORIZED)
  const body = form === 'json'
    ? encodeResponse(ackResponse('', UNAUTHORIZED.message), 'go')
    : `${UNAUTHORIZED.message}\n`
  const type = form === 'json' ? 'application/json' : TEXT
  return requireBearer(token, handle, (_req, res) => {
    onDenied?.()
    sendBody(res, status, body, type, true)
  })
}

/** The headers of a post to a peer coordinator: the token, if there is one. */
export function peerHeaders (token: BearerToken | undefined): Record<string, string> | undefined {
  return token === undefined ? undefined : { authorization: token.header }
}

/**
 * Whether a request's response hook is the `/proxy` of the peer that sent it: an http(s)
 * hook at path `/proxy`, without query, on the host the request came from (after localhost
 * substitution).
 */
export function isPeerProxyHook (hook: MsgUrl, ingress: Ingress): boolean {
  return hook.path === '/proxy' && hook.rawQuery === '' && !hook.forceQuery && isOnClientHost(hook, ingress)
}

/**
 * Whether a request's stream is the `/stream` of the peer that sent it (a peer forwarding a
 * request hands its stream on as its own `/stream?addr=` URL, which wants the token too).
 */
export function isPeerStreamUrl (stream: MsgUrl, ingress: Ingress): boolean {
  return stream.path === '/stream' && isOnClientHost(stream, ingress)
}

function isOnClientHost (url: MsgUrl, ingress: Ingress): boolean {
  if (ingress.via !== 'http' || ingress.client === '') return false
  if (url.scheme !== 'http' && url.scheme !== 'https') return false
  return splitHostPort(url.host).hostname.toLowerCase() === ingress.client.toLowerCase()
}
