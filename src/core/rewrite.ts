/**
 * URL rewriting: localhost substitution for requests from outside (SPEC 4 step 2) and
 * the coordinator's own `/stream?addr=` URLs for proxied streams (SPEC 5, 6).
 */
import { formatUrl, joinHostPort, splitHostPort, type MsgUrl } from './go-url.js'

/** Whether a URL host names this very machine: empty, `localhost`, `127.x.y.z` or `::1`. */
export function isLoopbackHostname (hostname: string): boolean {
  if (hostname === '' || hostname === 'localhost' || hostname === '::1') return true
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname)
}

/** The host of a socket's remote address as a URL hostname (IPv4-mapped IPv6 unwrapped). */
export function clientHostname (remoteAddress: string | undefined): string {
  if (remoteAddress === undefined) return ''
  return remoteAddress.startsWith('::ffff:') && remoteAddress.includes('.')
    ? remoteAddress.slice(7)
    : remoteAddress
}

/**
 * Replaces a loopback host of an http(s) URL with the client's host, keeping the URL's own
 * port, so that a remote client saying "call me back at localhost:4080" is reached. Other
 * URLs are returned as they are.
 */
export function substituteLocalhost (url: MsgUrl, client: string): MsgUrl {
  if (url.scheme === 'unix' || client === '') return url
  const { hostname, port } = splitHostPort(url.host)
  if (!isLoopbackHostname(hostname)) return url
  return { ...url, host: joinHostPort(client, port) }
}

/** Go's `url.QueryEscape`: every byte but `A-Za-z0-9-_.~` escaped, space as `+`. */
export function queryEscape (s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, escapeReserved).replace(/%20/g, '+')
}

function escapeReserved (c: string): string {
  return '%' + c.charCodeAt(0).toString(16).toUpperCase()
}

/** The coordinator's `/stream` URL that proxies `source`, on `base` (`http://localhost:P`). */
export function streamProxyUrl (base: MsgUrl, source: MsgUrl): MsgUrl {
  return {
    ...base,
    path: base.path.replace(/\/+$/, '') + '/stream',
    rawPath: '',
    rawQuery: 'addr=' + queryEscape(formatUrl(source)),
    forceQuery: false,
    fragment: '',
    rawFragment: ''
  }
}
