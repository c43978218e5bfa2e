/**
 * Coded errors of the HTTP layer: request bodies and hook delivery.
 *
 * The HTTP layer never imports `core/`; `core/errors.ts` maps these codes to statuses.
 */

/** Base of every error the HTTP layer raises on purpose; branch on `code`. */
export class HttpError extends Error {
  readonly code: string
  /**
   * True when the request body was left unread: the caller must answer with
   * `Connection: close` so the unread bytes are never parsed as a next request.
   */
  readonly closeConnection: boolean
  constructor (code: string, message: string, opts?: { cause?: unknown, closeConnection?: boolean }) {
    super(message, opts?.cause === undefined ? undefined : { cause: opts.cause })
    this.name = 'HttpError'
    this.code = code
    this.closeConnection = opts?.closeConnection ?? false
  }
}

/** The body (declared or received so far) is larger than the limit; the rest is not read. */
export class BodyTooLargeError extends HttpError {
  readonly limit: number
  constructor (size: number, limit: number, declared: boolean) {
    super('ERR_BODY_TOO_LARGE',
      `request body ${declared ? 'declares' : 'exceeds'} ${size} B, limit ${limit} B`,
      { closeConnection: true })
    this.limit = limit
  }
}

/** The whole body did not arrive in time; the rest is not read. */
export class BodyTimeoutError extends HttpError {
  constructor (timeoutMs: number, received: number) {
    super('ERR_BODY_TIMEOUT', `request body not received within ${timeoutMs} ms (${received} B read)`,
      { closeConnection: true })
  }
}

/** The client went away before the body was complete. */
export class BodyAbortedError extends HttpError {
  constructor (received: number, cause?: unknown) {
    super('ERR_BODY_ABORTED', `client aborted the request body after ${received} B`,
      { cause, closeConnection: true })
  }
}

/** A hook attempt did not complete (connect to end of reply) within the time limit. */
export class HookTimeoutError extends HttpError {
  constructor (timeoutMs: number) {
    super('ERR_HOOK_TIMEOUT', `hook did not answer within ${timeoutMs} ms`)
  }
}

/** Every attempt failed to reach the hook; `cause` is the last failure. */
export class HookUnreachableError extends HttpError {
  readonly attempts: number
  constructor (attempts: number, cause: unknown) {
    super('ERR_HOOK_UNREACHABLE', `hook unreachable after ${attempts} attempt(s): ${describe(cause)}`, { cause })
    this.attempts = attempts
  }
}

/** Delivery failed for another reason (bad URL, TLS, reply cut short, client closed). */
export class HookFailedError extends HttpError {
  constructor (what: string, cause?: unknown) {
    super('ERR_HOOK_FAILED', cause === undefined ? `hook delivery failed: ${what}` : `hook delivery failed: ${what}: ${describe(cause)}`, { cause })
  }
}

/** An HTTP/1.x reply that breaks the protocol (or a limit); the connection cannot be reused. */
export class ReplyParseError extends HttpError {
  constructor (what: string) {
    super('ERR_HTTP_REPLY_INVALID', `invalid HTTP reply: ${what}`)
  }
}

/** A stream source could not be opened: unreachable, too slow to answer, or not a 2xx. */
export class StreamSourceError extends HttpError {
  constructor (what: string, cause?: unknown) {
    super('ERR_STREAM_SOURCE', cause === undefined ? `stream source ${what}` : `stream source ${what}: ${describe(cause)}`, { cause })
  }
}

/** A stream stopped before its end: the reader left, or its source failed or closed early. */
export class StreamCutError extends HttpError {
  constructor (what: string, cause?: unknown) {
    super('ERR_STREAM_CUT', cause === undefined ? `stream cut: ${what}` : `stream cut: ${what}: ${describe(cause)}`, { cause })
  }
}

function describe (err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code
    return typeof code === 'string' && !err.message.includes(code) ? `${code} ${err.message}` : err.message
  }
  return String(err)
}
