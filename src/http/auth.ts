/**
 * Bearer-token authentication of the external HTTP endpoints (RFC 6750:
 * `Authorization: Bearer <token>`), compared in constant time, and the token file it is
 * read from.
 */
import { closeSync, fstatSync, openSync, readFileSync } from 'node:fs'
import type { IncomingMessage } from 'node:http'
import { createRequire } from 'node:module'
import { HttpError } from './errors.js'
import type { RouteHandler } from './server.js'

/** Longest token file read: a bigger file is not a token but the wrong file. */
export const MAX_TOKEN_FILE_BYTES = 4096

/** The realm named in the 401 challenge. */
const REALM = 'coordinator'

// RFC 6750's b64token plus the other visible ASCII a header value carries unchanged: no
// space, no control character, nothing a header would refuse or split.
const TOKEN_RE = /^[\x21-\x7e]+$/
// `Bearer` is case-insensitive (RFC 7235 2.1), then one or more spaces, then the token.
const BEARER_RE = /^bearer +(\S+) *$/i

/** The token file cannot be used: unreadable, empty, too big, or not a token. */
export class AuthTokenFileError extends HttpError {
  constructor (file: string, why: string, cause?: unknown) {
    super('ERR_AUTH_TOKEN_FILE', `${file}: ${why}`, cause === undefined ? undefined : { cause })
  }
}

/** A token file's content and whether users other than the owner and group may read it. */
export interface TokenFile {
  token: string
  /** the file's mode lets every user read it: the token is not much of a secret then */
  worldReadable: boolean
}

/**
 * Reads a token file at start: the token is its content without surrounding whitespace (a
 * trailing newline is usual). Throws AuthTokenFileError.
 */
export function readTokenFile (file: string): TokenFile {
  let text: string
  let mode: number
  let fd: number | undefined
  try {
    fd = openSync(file, 'r')
    const stat = fstatSync(fd)
    if (!stat.isFile()) throw new AuthTokenFileError(file, 'not a regular file')
    if (stat.size > MAX_TOKEN_FILE_BYTES) throw new AuthTokenFileError(file, `larger than ${MAX_TOKEN_FILE_BYTES} bytes`)
    mode = stat.mode
    text = readFileSync(fd, 'utf8')
  } catch (err) {
    if (err instanceof AuthTokenFileError) throw err
    throw new AuthTokenFileError(file, `cannot read it (${(err as Error).message})`, err)
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
  const token = text.trim()
  if (token === '') throw new AuthTokenFileError(file, 'is empty')
  if (!TOKEN_RE.test(token)) {
    throw new AuthTokenFileError(file, 'the token must be one word of printable ASCII (no spaces or control characters)')
  }
  return { token, worldReadable: (mode & 0o004) !== 0 }
}

/** A bearer token: checks incoming requests, and gives the header for outgoing ones. */
export class BearerToken {
  readonly #digest: Buffer
  readonly #header: string

  constructor (token: string) {
    if (!TOKEN_RE.test(token)) throw new HttpError('ERR_AUTH_TOKEN_INVALID', 'a bearer token must be printable ASCII without spaces')
    this.#digest = sha256(token)
    this.#header = `Bearer ${token}`
  }

  /** The `Authorization` header value that carries the token. */
  get header (): string {
    return this.#header
  }

  /**
   * Whether `value` (an `Authorization` header) carries the token. Digests of equal length
   * are compared with timingSafeEqual: the time taken tells nothing of the token, its
   * length included.
   */
  accepts (value: string | undefined): boolean {
    if (value === undefined) return false
    const m = BEARER_RE.exec(value)
    if (m === null) return false
    return crypto().timingSafeEqual(sha256(m[1] as string), this.#digest)
  }
}

/**
 * Wraps a route: a request without the token gets the `WWW-Authenticate` challenge and is
 * answered by `deny` (which sets the status and body); one with it goes to `handle`.
 */
export function requireBearer (token: BearerToken, handle: RouteHandler, deny: RouteHandler): RouteHandler {
  return function bearerGuard (req: IncomingMessage, res) {
    const value = req.headers.authorization
    if (token.accepts(value)) {
      handle(req, res)
      return
    }
    // RFC 6750 3.1: no error code when no credentials were sent, invalid_token when they were wrong.
    res.setHeader('WWW-Authenticate', value === undefined
      ? `Bearer realm="${REALM}"`
      : `Bearer realm="${REALM}", error="invalid_token"`)
    deny(req, res)
  }
}

// node:crypto is loaded only once a token is set: it costs start-up about 8 ms otherwise.
let nodeCrypto: typeof import('node:crypto') | undefined
function crypto (): typeof import('node:crypto') {
  nodeCrypto ??= createRequire(import.meta.url)('node:crypto') as typeof import('node:crypto')
  return nodeCrypto
}

function sha256 (s: string): Buffer {
  return crypto().createHash('sha256').update(s).digest()
}
