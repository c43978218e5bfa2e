/**
 * Coded errors of the core layer, and the one table from error code to HTTP status.
 *
 * Code and tests branch on `code`, never on the message. The transport layers (`net/`,
 * `http/`) define their own coded errors; this table maps their codes too, so the HTTP
 * edge turns any coded error into a status in exactly one place.
 */

/**
 * Base of every error the coordinator raises on purpose. These are expected outcomes (a bad
 * request, no provider), answered with an ack: they carry no stack trace, whose capture would
 * make a refusal cost many times a valid request (a flood of bad input must stay cheap).
 */
export class CoordinatorError extends Error {
  readonly code: string
  constructor (code: string, message: string) {
    const limit = Error.stackTraceLimit
    Error.stackTraceLimit = 0
    super(message)
    Error.stackTraceLimit = limit
    this.name = 'CoordinatorError'
    this.code = code
  }
}

/** HTTP status for each error code (SPEC 2.4); codes not listed map to 500. */
const STATUS_BY_CODE: Readonly<Record<string, number>> = {
  // malformed or invalid request
  ERR_MESSAGE_UTF8: 400,
  ERR_MESSAGE_JSON: 400,
  ERR_MESSAGE_SHAPE: 400,
  ERR_MESSAGE_FIELD_TYPE: 400,
  ERR_MESSAGE_MISSING_ID: 400,
  ERR_MESSAGE_MISSING_TASK: 400,
  ERR_URL_INVALID: 400,
  ERR_URL_SCHEME: 400,
  ERR_URL_CREDENTIALS: 400,
  ERR_URL_PORT: 400,
  ERR_TASK_NAME: 400,
  ERR_DUPLICATE_ID: 400,
  ERR_SOCKET_PATH_TOO_LONG: 400,
  ERR_BODY_TIMEOUT: 408,
  // /stream: a missing or malformed addr, an address not issued (or expired), not a GET
  ERR_STREAM_ADDR_INVALID: 400,
  ERR_STREAM_FORBIDDEN: 403,
  ERR_STREAM_METHOD: 405,
  // no provider
  ERR_NO_PROVIDERS: 404,
  // too large
  ERR_BODY_TOO_LARGE: 413,
  ERR_FRAME_TOO_LARGE: 413,
  // no provider (or remote coordinator) accepted
  ERR_NO_PROVIDER_ACCEPTED: 502,
  ERR_FORWARD_FAILED: 502,
  ERR_FORWARD_REFUSED: 502,
  // a stream source that cannot be opened
  ERR_STREAM_SOURCE: 502,
  // shutting down or overloaded
  ERR_SHUTTING_DOWN: 503,
  ERR_OVERLOADED: 503,
  // GET /healthz before every listener is up
  ERR_NOT_READY: 503,
  // the external endpoints without the bearer token (auth_token_file)
  ERR_UNAUTHORIZED: 401
}

/** The HTTP status an error answers with: its code's entry, else 500. */
export function httpStatusOf (err: unknown): number {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'string' ? (STATUS_BY_CODE[code] ?? 500) : 500
}
