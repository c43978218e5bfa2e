/**
 * Coded errors of the unix socket transport. `src/net` moves bytes only, so these know nothing
 * of messages; callers branch on `code`, never on the message.
 */

/** Base of every error the transport raises on purpose. */
export class NetError extends Error {
  readonly code: string
  constructor (code: string, message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'NetError'
    this.code = code
  }
}

/** A frame header declared a length above the reader's limit. */
export class FrameTooLargeError extends NetError {
  constructor (size: number, limit: number) {
    super('ERR_FRAME_TOO_LARGE', `frame of ${size} bytes exceeds the limit of ${limit} bytes`)
  }
}

/** The peer ended the stream in the middle of a frame. */
export class FrameTruncatedError extends NetError {
  constructor (bufferedBytes: number) {
    super('ERR_FRAME_TRUNCATED', `stream ended mid-frame with ${bufferedBytes} bytes of it received`)
  }
}

/** Nothing exists at the socket path (ENOENT on connect). */
export class SocketNotFoundError extends NetError {
  constructor (path: string, cause?: unknown) {
    super('ERR_SOCKET_NOT_FOUND', `no socket at ${path}`, { cause })
  }
}

/** A socket file exists but nobody accepts on it (ECONNREFUSED). */
export class ConnectionRefusedError extends NetError {
  constructor (path: string, cause?: unknown) {
    super('ERR_CONNECTION_REFUSED', `connection refused by ${path}`, { cause })
  }
}

/**
 * The server's accept queue is full (EAGAIN): a unix connect() fails at once instead of
 * waiting. The server is alive but behind; a retry a moment later usually gets in.
 */
export class SocketBusyError extends NetError {
  constructor (path: string, cause?: unknown) {
    super('ERR_SOCKET_BUSY', `${path} is not accepting fast enough (accept queue full)`, { cause })
  }
}

/** Any other connect failure (EACCES, ...). */
export class ConnectFailedError extends NetError {
  constructor (path: string, cause?: unknown) {
    const sys = (cause as { code?: unknown } | undefined)?.code
    super('ERR_CONNECT_FAILED', `cannot connect to ${path}${typeof sys === 'string' ? ` (${sys})` : ''}`, { cause })
  }
}

/** The connection ended or was reset before a full answer frame arrived. */
export class ConnectionClosedError extends NetError {
  constructor (detail: string, cause?: unknown) {
    super('ERR_CONNECTION_CLOSED', `connection closed before a full answer frame: ${detail}`, { cause })
  }
}

/** The client gave up on a whole exchange (connect included). */
export class ExchangeTimeoutError extends NetError {
  constructor (timeoutMs: number) {
    super('ERR_EXCHANGE_TIMEOUT', `no answer frame within ${timeoutMs} ms`)
  }
}

/** The server gave up waiting for a peer's request frame. */
export class ReadTimeoutError extends NetError {
  constructor (timeoutMs: number) {
    super('ERR_READ_TIMEOUT', `no full request frame within ${timeoutMs} ms`)
  }
}

/** A live process already serves the socket path. */
export class SocketInUseError extends NetError {
  constructor (path: string) {
    super('ERR_SOCKET_IN_USE', `a live process already serves ${path}`)
  }
}

/** The socket path does not fit in sun_path. */
export class SocketPathTooLongError extends NetError {
  constructor (path: string, bytes: number, limit: number) {
    super('ERR_SOCKET_PATH_TOO_LONG', `socket path is ${bytes} bytes, limit ${limit}: ${path}`)
  }
}

/** A file that is not a socket sits where the socket should go. */
export class NotASocketError extends NetError {
  constructor (path: string) {
    super('ERR_NOT_A_SOCKET', `${path} exists and is not a socket`)
  }
}

/** Maps a failed connect() to its coded error. */
export function connectErrorOf (err: unknown, path: string): NetError {
  switch ((err as { code?: unknown } | null)?.code) {
    case 'ENOENT':
    case 'ENOTDIR':
      return new SocketNotFoundError(path, err)
    case 'ECONNREFUSED':
      return new ConnectionRefusedError(path, err)
    case 'EAGAIN':
      return new SocketBusyError(path, err)
    default:
      return new ConnectFailedError(path, err)
  }
}
