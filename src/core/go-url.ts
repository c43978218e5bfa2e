/**
 * URLs as the original (Go) coordinator holds them: the fields of Go's `net/url.URL`.
 *
 * A plain WHATWG `URL` cannot stand in: it cannot hold an `http` URL with an empty host
 * (`http:///p`, which localhost substitution must fill in), and it normalises what Go
 * keeps as sent.
 */

import { Buffer, isUtf8 } from 'node:buffer'
import { CoordinatorError } from './errors.js'

/** How a peer writes URL fields on the wire: Go `net/url.URL` objects or plain strings. */
export type UrlForm = 'go' | 'string'

/** A URL with the fields of Go's `net/url.URL` (user info is never kept: see `parseUrlString`). */
export interface MsgUrl {
  /** lower-case scheme: `unix`, `http` or `https` once validated */
  scheme: string
  opaque: string
  /** `host` or `host:port`; IPv6 literals bracketed; empty for unix URLs */
  host: string
  /** decoded path; for unix URLs the socket path */
  path: string
  rawPath: string
  omitHost: boolean
  forceQuery: boolean
  /** query, already escaped, without the `?` */
  rawQuery: string
  fragment: string
  rawFragment: string
}

// ---------------------------------------------------------------------------------------------
// Parsing, validation and formatting with Go `net/url` semantics.

// Go's escaping modes (net/url `encoding`), as int constants.
const ENCODE_PATH = 1
const ENCODE_HOST = 2
const ENCODE_FRAGMENT = 3

const HEX_UPPER = '0123456789ABCDEF'

/** The schemes a message URL may carry. */
export const URL_SCHEMES: ReadonlySet<string> = new Set(['unix', 'http', 'https'])

function isAlnum (c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39)
}

// Go's shouldEscape, limited to the modes we use.
function shouldEscape (c: number, mode: number): boolean {
  if (isAlnum(c)) return false
  if (mode === ENCODE_HOST) {
    switch (c) {
      case 0x21: case 0x24: case 0x26: case 0x27: case 0x28: case 0x29: case 0x2a: case 0x2b:
      case 0x2c: case 0x3b: case 0x3d: case 0x3a: case 0x5b: case 0x5d: case 0x3c: case 0x3e:
      case 0x22: // ! $ & ' ( ) * + , ; = : [ ] < > "
        return false
    }
  }
  switch (c) {
    case 0x2d: case 0x5f: case 0x2e: case 0x7e: // - _ . ~
      return false
    case 0x24: case 0x26: case 0x2b: case 0x2c: case 0x2f: case 0x3a: case 0x3b: case 0x3d:
    case 0x3f: case 0x40: // $ & + , / : ; = ? @
      if (mode === ENCODE_PATH) return c === 0x3f
      if (mode === ENCODE_FRAGMENT) return false
      break
  }
  if (mode === ENCODE_FRAGMENT) {
    switch (c) {
      case 0x21: case 0x28: case 0x29: case 0x2a: // ! ( ) *
        return false
    }
  }
  return true
}

function needsEscape (s: string, mode: number): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c >= 0x80 || shouldEscape(c, mode)) return true
  }
  return false
}

// Go's escape(): percent-encodes the UTF-8 bytes that `mode` does not allow as they are.
function escape (s: string, mode: number): string {
  if (!needsEscape(s, mode)) return s
  const bytes = Buffer.from(s, 'utf8')
  let out = ''
  for (const c of bytes) {
    if (c < 0x80 && !shouldEscape(c, mode)) out += String.fromCharCode(c)
    else out += '%' + HEX_UPPER[c >> 4]! + HEX_UPPER[c & 15]!
  }
  return out
}

function hexValue (c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10
  return -1
}

function invalid (message: string): CoordinatorError {
  return new CoordinatorError('ERR_URL_INVALID', message)
}

// Go's unescape(): decodes %XX (no `+` handling: path, host and fragment modes only).
// Unlike Go, a result that is not valid UTF-8 is refused: a JS string cannot hold it.
function unescape (s: string, mode: number): string {
  if (s.indexOf('%') === -1) {
    if (mode === ENCODE_HOST) checkHostChars(s, s)
    return s
  }
  const bytes = Buffer.from(s, 'utf8')
  const out = Buffer.allocUnsafe(bytes.length)
  let n = 0
  for (let i = 0; i < bytes.length;) {
    const c = bytes[i]!
    if (c === 0x25) {
      const hi = i + 1 < bytes.length ? hexValue(bytes[i + 1]!) : -1
      const lo = i + 2 < bytes.length ? hexValue(bytes[i + 2]!) : -1
      if (hi < 0 || lo < 0) {
        throw invalid(`invalid URL escape ${JSON.stringify(bytes.subarray(i, i + 3).toString('latin1'))}`)
      }
      // RFC 3986: in a host, %-encoding is only for non-ASCII bytes, and %25 (RFC 6874 zones)
      if (mode === ENCODE_HOST && hi < 8 && !(hi === 2 && lo === 5)) {
        throw invalid(`invalid URL escape ${JSON.stringify(bytes.subarray(i, i + 3).toString('latin1'))}`)
      }
      out[n++] = hi * 16 + lo
      i += 3
    } else {
      if (mode === ENCODE_HOST && c < 0x80 && shouldEscape(c, ENCODE_HOST)) {
        throw invalid(`invalid character ${JSON.stringify(String.fromCharCode(c))} in host name`)
      }
      out[n++] = c
      i++
    }
  }
  const decoded = out.subarray(0, n)
  if (!isUtf8(decoded)) throw invalid(`escapes in ${JSON.stringify(s)} decode to invalid UTF-8`)
  return decoded.toString('utf8')
}

function checkHostChars (host: string, whole: string): void {
  for (let i = 0; i < host.length; i++) {
    const c = host.charCodeAt(i)
    if (c < 0x80 && shouldEscape(c, ENCODE_HOST) && c !== 0x25) {
      throw invalid(`invalid character ${JSON.stringify(host[i])} in host name ${JSON.stringify(whole)}`)
    }
  }
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/

function hasControlChar (s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x20 || c === 0x7f) return true
  }
  return false
}

// Go's validOptionalPort: '' or ':' followed by digits only.
function isOptionalPort (colonPort: string): boolean {
  if (colonPort === '') return true
  if (colonPort.charCodeAt(0) !== 0x3a) return false
  for (let i = 1; i < colonPort.length; i++) {
    const c = colonPort.charCodeAt(i)
    if (c < 0x30 || c > 0x39) return false
  }
  return true
}

// Our addition to Go: a port, when present, is a number in 1..65535.
function checkPort (host: string, prefix: string): void {
  const { port } = splitHostPort(host)
  if (port === '') return
  const n = Number(port)
  if (port.length > 5 || n < 1 || n > 65535) {
    throw new CoordinatorError('ERR_URL_PORT', `${prefix}port ${port} is out of range 1..65535`)
  }
}

// Go's parseHost, plus our port range check.
function parseHost (host: string): string {
  if (host.startsWith('[')) {
    const close = host.lastIndexOf(']')
    if (close < 0) throw invalid(`missing ']' in host ${JSON.stringify(host)}`)
    const colonPort = host.slice(close + 1)
    if (!isOptionalPort(colonPort)) {
      throw new CoordinatorError('ERR_URL_PORT', `invalid port ${JSON.stringify(colonPort)} after host`)
    }
  } else {
    const colon = host.lastIndexOf(':')
    if (colon !== -1 && !isOptionalPort(host.slice(colon))) {
      throw new CoordinatorError('ERR_URL_PORT', `invalid port ${JSON.stringify(host.slice(colon))} after host`)
    }
  }
  const decoded = unescape(host, ENCODE_HOST)
  checkPort(decoded, '')
  return decoded
}

// Go's getScheme: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) followed by ':'.
function schemeEnd (s: string): number {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if ((c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a)) continue
    if ((c >= 0x30 && c <= 0x39) || c === 0x2b || c === 0x2d || c === 0x2e) {
      if (i === 0) return -1
      continue
    }
    if (c === 0x3a) return i === 0 ? -1 : i
    return -1
  }
  return -1
}

/** An empty URL: every field '' or false. */
export function emptyUrl (): MsgUrl {
  return {
    scheme: '',
    opaque: '',
    host: '',
    path: '',
    rawPath: '',
    omitHost: false,
    forceQuery: false,
    rawQuery: '',
    fragment: '',
    rawFragment: ''
  }
}

/** `unix://<path>`: the URL of a unix socket. */
export function unixUrl (path: string): MsgUrl {
  const u = emptyUrl()
  u.scheme = 'unix'
  u.path = path
  return u
}

/** An http(s) URL from its parts; `host` may carry a port, `rawQuery` is already escaped. */
export function httpUrl (host: string, path: string, rawQuery = '', scheme: 'http' | 'https' = 'http'): MsgUrl {
  const u = emptyUrl()
  u.scheme = scheme
  u.host = host
  u.path = path
  u.rawQuery = rawQuery
  return u
}

/** Parses an absolute URL string as Go's `url.Parse` does; refuses credentials. */
export function parseUrlString (s: string): MsgUrl {
  if (hasControlChar(s)) throw invalid(`invalid control character in URL ${JSON.stringify(s)}`)
  const u = emptyUrl()
  const hash = s.indexOf('#')
  const frag = hash === -1 ? '' : s.slice(hash + 1)
  let rest = hash === -1 ? s : s.slice(0, hash)

  const end = schemeEnd(rest)
  if (end <= 0) throw invalid(`missing protocol scheme in URL ${JSON.stringify(s)}`)
  u.scheme = rest.slice(0, end).toLowerCase()
  rest = rest.slice(end + 1)

  const q = rest.indexOf('?')
  if (q !== -1) {
    if (q === rest.length - 1) {
      u.forceQuery = true
    } else {
      u.rawQuery = rest.slice(q + 1)
    }
    rest = rest.slice(0, q)
  }

  if (!rest.startsWith('/')) {
    // RFC 3986 rootless paths after a scheme are opaque (`mailto:x`, `unix:rel.sock`)
    u.opaque = rest
  } else {
    if (rest.startsWith('//')) {
      let authority = rest.slice(2)
      const slash = authority.indexOf('/')
      if (slash === -1) {
        rest = ''
      } else {
        rest = authority.slice(slash)
        authority = authority.slice(0, slash)
      }
      if (authority.lastIndexOf('@') !== -1) {
        // Go's URL object form cannot carry user info (it writes "User":{}), so refuse it
        throw new CoordinatorError('ERR_URL_CREDENTIALS', 'URLs with credentials (user info) are not supported')
      }
      u.host = parseHost(authority)
    } else {
      u.omitHost = true
    }
    u.path = unescape(rest, ENCODE_PATH)
    if (escape(u.path, ENCODE_PATH) !== rest) u.rawPath = rest
  }

  if (frag !== '') {
    u.fragment = unescape(frag, ENCODE_FRAGMENT)
    if (escape(u.fragment, ENCODE_FRAGMENT) !== frag) u.rawFragment = frag
  }
  return u
}

const STRING_KEYS = ['scheme', 'opaque', 'host', 'path', 'rawPath', 'rawQuery', 'fragment', 'rawFragment'] as const
const BOOL_KEYS = ['omitHost', 'forceQuery'] as const
type StringKey = typeof STRING_KEYS[number]
type BoolKey = typeof BOOL_KEYS[number]

// Go field name -> MsgUrl key; folded (lower-case) Go name -> the same.
const GO_FIELD: ReadonlyMap<string, StringKey | BoolKey | 'user'> = new Map<string, StringKey | BoolKey | 'user'>([
  ['Scheme', 'scheme'], ['Opaque', 'opaque'], ['User', 'user'], ['Host', 'host'], ['Path', 'path'],
  ['RawPath', 'rawPath'], ['OmitHost', 'omitHost'], ['ForceQuery', 'forceQuery'],
  ['RawQuery', 'rawQuery'], ['Fragment', 'fragment'], ['RawFragment', 'rawFragment']
])
const GO_FIELD_FOLDED: ReadonlyMap<string, StringKey | BoolKey | 'user'> = new Map(
  [...GO_FIELD].map(([name, key]) => [name.toLowerCase(), key])
)

/** Folds a JSON key as Go's encoding/json matches field names (`K` Kelvin sign and `ſ` included). */
export function foldKey (key: string): string {
  const lower = key.toLowerCase()
  return lower.indexOf('ſ') === -1 ? lower : lower.replaceAll('ſ', 's')
}

/**
 * A URL from the Go `net/url.URL` JSON object: keys match case-insensitively, unknown keys are
 * ignored, missing keys stay empty, and `null` leaves a field as it was (all as Go decodes).
 */
export function urlFromGoObject (obj: Record<string, unknown>, field = 'url'): MsgUrl {
  return urlFromGoMembers(Object.entries(obj), field)
}

/** As `urlFromGoObject`, from the object's members in input order (duplicates included). */
export function urlFromGoMembers (members: Iterable<readonly [string, unknown]>, field = 'url'): MsgUrl {
  const u = emptyUrl()
  // Go assigns members in input order, so a later duplicate (in any case) wins
  for (const [name, value] of members) {
    const key = GO_FIELD.get(name) ?? GO_FIELD_FOLDED.get(foldKey(name))
    if (key === undefined) continue
    if (value === null) continue
    if (key === 'user') {
      if (typeof value !== 'object') throw fieldType(field, 'User', value, '*url.Userinfo')
    } else if (key === 'omitHost' || key === 'forceQuery') {
      if (typeof value !== 'boolean') throw fieldType(field, name, value, 'bool')
      u[key] = value
    } else {
      if (typeof value !== 'string') throw fieldType(field, name, value, 'string')
      u[key] = value
    }
  }
  return u
}

function jsonTypeName (value: unknown): string {
  if (Array.isArray(value)) return 'array'
  if (typeof value === 'boolean') return 'bool'
  return typeof value
}

function fieldType (field: string, name: string, value: unknown, goType: string): CoordinatorError {
  return new CoordinatorError('ERR_MESSAGE_FIELD_TYPE',
    `json: cannot unmarshal ${jsonTypeName(value)} into Go struct field ${field}.${name} of type ${goType}`)
}

/** Checks a message URL (scheme, host, port, unix path); returns it with a lower-case scheme. */
export function validateUrl (u: MsgUrl, field: string): MsgUrl {
  const scheme = u.scheme.toLowerCase()
  if (!URL_SCHEMES.has(scheme)) {
    throw new CoordinatorError('ERR_URL_SCHEME', `${field}: unsupported URL scheme ${JSON.stringify(u.scheme)} (want unix, http or https)`)
  }
  if (u.opaque !== '') throw invalid(`${field}: opaque URL ${JSON.stringify(u.scheme + ':' + u.opaque)} has no path`)
  // formatUrl writes the query as it is: a '#', a control character or a lone surrogate (a
  // `\ud800` escape), which only a Go URL object can carry, would make a URL string that no
  // parser, ours or Go's, reads back as the same URL.
  if (u.rawQuery.includes('#') || hasControlChar(u.rawQuery) || LONE_SURROGATE.test(u.rawQuery)) {
    throw invalid(`${field}: invalid character in query ${JSON.stringify(u.rawQuery)}`)
  }
  if (scheme === 'unix') {
    if (u.host !== '') throw invalid(`${field}: a unix URL has no host (got ${JSON.stringify(u.host)})`)
    if (!u.path.startsWith('/')) throw invalid(`${field}: a unix URL needs an absolute socket path`)
    if (u.path.indexOf('\0') !== -1) throw invalid(`${field}: socket path contains NUL`)
  } else if (u.host !== '') {
    checkHostSyntax(u.host, field)
    checkPort(u.host, field + ': ')
  } else if (u.path !== '' && !u.path.startsWith('/')) {
    // Written as `http://` and the path (Go's URL.String() does the same), the path would
    // read back as the host: a URL string no parser, ours or Go's, reads back as this URL.
    throw invalid(`${field}: a URL without host needs an absolute path (got ${JSON.stringify(u.path)})`)
  }
  return scheme === u.scheme ? u : { ...u, scheme }
}

function checkHostSyntax (host: string, field: string): void {
  if (hasControlChar(host)) throw invalid(`${field}: invalid control character in host`)
  if (host.startsWith('[')) {
    const close = host.indexOf(']')
    if (close < 0) throw invalid(`${field}: missing ']' in host ${JSON.stringify(host)}`)
    if (close + 1 < host.length && host.charCodeAt(close + 1) !== 0x3a) {
      throw new CoordinatorError('ERR_URL_PORT', `${field}: invalid port ${JSON.stringify(host.slice(close + 1))} after host`)
    }
  } else {
    const colon = host.lastIndexOf(':')
    if (colon !== -1 && !isOptionalPort(host.slice(colon))) {
      throw new CoordinatorError('ERR_URL_PORT', `${field}: invalid port ${JSON.stringify(host.slice(colon))} after host`)
    }
  }
  try {
    checkHostChars(host, host)
  } catch (err) {
    throw invalid(`${field}: ${(err as Error).message}`)
  }
}

function escapedPath (u: MsgUrl): string {
  if (u.rawPath !== '' && validEncoded(u.rawPath, ENCODE_PATH)) {
    try {
      if (unescape(u.rawPath, ENCODE_PATH) === u.path) return u.rawPath
    } catch {}
  }
  if (u.path === '*') return '*'
  return escape(u.path, ENCODE_PATH)
}

function escapedFragment (u: MsgUrl): string {
  if (u.rawFragment !== '' && validEncoded(u.rawFragment, ENCODE_FRAGMENT)) {
    try {
      if (unescape(u.rawFragment, ENCODE_FRAGMENT) === u.fragment) return u.rawFragment
    } catch {}
  }
  return escape(u.fragment, ENCODE_FRAGMENT)
}

// Go's validEncoded: only characters that may stand unescaped, or '%'.
function validEncoded (s: string, mode: number): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    switch (c) {
      case 0x21: case 0x24: case 0x26: case 0x27: case 0x28: case 0x29: case 0x2a: case 0x2b:
      case 0x2c: case 0x3b: case 0x3d: case 0x3a: case 0x40: case 0x5b: case 0x5d: case 0x25:
        continue
    }
    if (c >= 0x80 || shouldEscape(c, mode)) return false
  }
  return true
}

/** Go's `URL.String()` (user info never present). */
export function formatUrl (u: MsgUrl): string {
  let out = ''
  if (u.scheme !== '') out += u.scheme + ':'
  if (u.opaque !== '') {
    out += u.opaque
  } else {
    if ((u.scheme !== '' || u.host !== '') && !(u.omitHost && u.host === '')) {
      if (u.host !== '' || u.path !== '') out += '//'
      if (u.host !== '') out += escape(u.host, ENCODE_HOST)
    }
    const path = escapedPath(u)
    if (path !== '' && path[0] !== '/' && u.host !== '') out += '/'
    if (out === '') {
      // RFC 3986 4.2: a first segment with a colon would read as a scheme
      const slash = path.indexOf('/')
      if ((slash === -1 ? path : path.slice(0, slash)).indexOf(':') !== -1) out += './'
    }
    out += path
  }
  if (u.forceQuery || u.rawQuery !== '') out += '?' + u.rawQuery
  if (u.fragment !== '') out += '#' + escapedFragment(u)
  return out
}

// Characters Go's encoder escapes in strings (HTML-safe mode) or JSON must escape, and lone
// surrogates (which we write as \uXXXX escapes so that nothing is lost).
const NEEDS_JSON_ESCAPE = /[\u0000-\u001f"\\<>&\u2028\u2029\ud800-\udfff]/
const HEX_LOWER = '0123456789abcdef'

/** A JSON string literal as Go's encoding/json writes it (`<`, `>`, `&`, U+2028/9 escaped). */
export function goJsonString (s: string): string {
  if (!NEEDS_JSON_ESCAPE.test(s)) return '"' + s + '"'
  let out = '"'
  let from = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    let esc: string
    if (c === 0x22) esc = '\\"'
    else if (c === 0x5c) esc = '\\\\'
    else if (c === 0x0a) esc = '\\n'
    else if (c === 0x0d) esc = '\\r'
    else if (c === 0x09) esc = '\\t'
    else if (c < 0x20 || c === 0x3c || c === 0x3e || c === 0x26) {
      esc = '\\u00' + HEX_LOWER[c >> 4]! + HEX_LOWER[c & 15]!
    } else if (c === 0x2028 || c === 0x2029) {
      esc = '\\u' + c.toString(16)
    } else if (c >= 0xd800 && c <= 0xdfff) {
      const next = s.charCodeAt(i + 1)
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        i++
        continue
      }
      esc = '\\u' + c.toString(16)
    } else {
      continue
    }
    out += s.slice(from, i) + esc
    from = i + 1
  }
  return out + s.slice(from) + '"'
}

/** The compact Go `net/url.URL` JSON object, byte-identical to Go 1.19's encoder. */
export function goUrlJson (u: MsgUrl): string {
  return '{"Scheme":' + goJsonString(u.scheme) +
    ',"Opaque":' + goJsonString(u.opaque) +
    ',"User":null,"Host":' + goJsonString(u.host) +
    ',"Path":' + goJsonString(u.path) +
    ',"RawPath":' + goJsonString(u.rawPath) +
    ',"OmitHost":' + (u.omitHost ? 'true' : 'false') +
    ',"ForceQuery":' + (u.forceQuery ? 'true' : 'false') +
    ',"RawQuery":' + goJsonString(u.rawQuery) +
    ',"Fragment":' + goJsonString(u.fragment) +
    ',"RawFragment":' + goJsonString(u.rawFragment) + '}'
}

/** Splits `host[:port]` as Go's `URL.Hostname()`/`Port()` do; IPv6 brackets are removed. */
export function splitHostPort (host: string): { hostname: string, port: string } {
  let hostname = host
  let port = ''
  const colon = host.lastIndexOf(':')
  if (colon !== -1 && isOptionalPort(host.slice(colon))) {
    hostname = host.slice(0, colon)
    port = host.slice(colon + 1)
  }
  if (hostname.startsWith('[') && hostname.endsWith(']')) hostname = hostname.slice(1, -1)
  return { hostname, port }
}

/** Joins a hostname and a port into a URL host (IPv6 bracketed); an empty port is left out. */
export function joinHostPort (hostname: string, port: string): string {
  const h = hostname.indexOf(':') !== -1 ? '[' + hostname + ']' : hostname
  return port === '' ? h : h + ':' + port
}
