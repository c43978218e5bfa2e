/**
 * The one outcome of a hook attempt that may be retried: the hook never answered because
 * it was never reached, or the connection failed before any byte of a reply.
 */

/** Socket error codes that mean the hook never got to answer: nothing in them says it saw the request. */
export const CONNECT_ERROR_CODES: ReadonlySet<string> = new Set([
  // ECONNRESET/EPIPE here is typically a pooled socket the server closed as we wrote.
  'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ECONNABORTED', 'ENOTFOUND', 'EAI_AGAIN',
  'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENETDOWN', 'ETIMEDOUT'
])

/** Whether `err` is a connection failure in `CONNECT_ERROR_CODES`. */
export function isConnectError (err: unknown): boolean {
  const code = (err as { code?: unknown } | undefined)?.code
  return typeof code === 'string' && CONNECT_ERROR_CODES.has(code)
}

/** Rejection value of an attempt that may be retried; `cause` is what went wrong. */
export class RetryableFailure {
  readonly cause: unknown
  constructor (cause: unknown) { this.cause = cause }
}
