/**
 * The `/stream` route (SPEC 6): `GET /stream?addr=<URL>` answered with the bytes of an address
 * the coordinator issued; refusals as plain text, in the original's words where it had them.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { httpStatusOf } from './errors.js'
import type { StreamProxy } from './streams.js'
import { sendBody, type RouteHandler } from '../http/server.js'

const TEXT = 'text/plain; charset=utf-8'

/** `GET /stream?addr=`: the issued address's bytes, or 400 / 403 / 502 with a one-line body. */
export function httpStreamRoute (streams: StreamProxy): RouteHandler {
  return (req, res) => { void answerStream(streams, req, res) }
}

/** Any other method on `/stream`: 405. */
export function httpStreamMethodRoute (): RouteHandler {
  return (_req, res) => {
    res.setHeader('Allow', 'GET')
    sendBody(res, httpStatusOf({ code: 'ERR_STREAM_METHOD' }), 'method not allowed: use GET\n', TEXT)
  }
}

async function answerStream (streams: StreamProxy, req: IncomingMessage, res: ServerResponse): Promise<void> {
  let source
  try {
    source = await streams.open(addrOf(req.url ?? ''))
  } catch (err) {
    // Go's http.Error writes the message and a newline.
    sendBody(res, httpStatusOf(err), `${(err as Error).message}\n`, TEXT)
    return
  }
  await streams.serve(source, res)
}

/** The first `addr` of the query, decoded as Go's `url.Query().Get` does ('+' is a space). */
function addrOf (url: string): string | null {
  const q = url.indexOf('?')
  if (q === -1) return null
  const hash = url.indexOf('#', q)
  return new URLSearchParams(hash === -1 ? url.slice(q + 1) : url.slice(q + 1, hash)).get('addr')
}
