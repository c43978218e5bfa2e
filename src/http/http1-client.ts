/**
 * A lean HTTP/1.1 client for JSON POSTs over keep-alive `node:net` sockets: per origin a
 * pool of sockets (idle ones reused last in, first out, at most `maxSockets`, posts beyond
 * that queued first in, first out), one write per request, and a strict incremental reply
 * parser. One call is one attempt: retrying is the caller's decision (see `RetryableFailure`).
 */
import net from 'node:net'
import { HookFailedError, HookTimeoutError } from './errors.js'
import { ResponseParser } from './http1-parser.js'
import { isConnectError, RetryableFailure } from './retryable.js'

// Bodies up to this size are copied behind the head; larger ones are written as they are.
const COPY_BODY_BYTES = 16 * 1024

/** Options of an Http1Client. */
export interface Http1ClientOptions {
  /** sockets per origin, idle or busy */
  maxSockets: number
  /** how long an idle socket is kept open */
  keepAliveMs: number
}

/** Where a request goes. */
export interface Http1Target {
  /** `host[:port]` as sent in the Host header; also names the origin's pool */
  host: string
  /** the name or address to connect to (an IPv6 address without brackets) */
  hostname: string
  port: number
  /** the request target: path and query, already percent-encoded */
  path: string
}

/** The reply: any status is a result; the body is kept up to the post's limit. */
export interface Http1Reply {
  status: number
  body: Buffer
}

/** One attempt of one post, from its call to its settlement. */
class Attempt {
  /** the request bytes (the head alone when the body is large), until written */
  request: Buffer | undefined
  /** a large body, written after the head rather than copied */
  body: Buffer | undefined
  readonly maxReplyBytes: number
  readonly timeoutMs: number
  timer: NodeJS.Timeout | undefined
  conn: Connection | undefined
  /** a connected socket carried the request: a timeout from here on is final */
  connected = false
  /** a byte of the reply arrived: nothing is retried from here on */
  answered = false
  done = false
  resolve!: (reply: Http1Reply) => void
  reject!: (err: unknown) => void
  readonly promise: Promise<Http1Reply>

  constructor (request: Buffer, body: Buffer | undefined, maxReplyBytes: number, timeoutMs: number) {
    this.request = request
    this.body = body
    this.maxReplyBytes = maxReplyBytes
    this.timeoutMs = timeoutMs
    this.promise = new Promise<Http1Reply>((resolve, reject) => {
      this.resolve = resolve
      this.reject = reject
    })
  }
}

/** The sockets and waiting posts of one origin. */
class Origin {
  readonly host: string
  readonly hostname: string
  readonly port: number
  /** every open socket, idle or busy */
  readonly all = new Set<Connection>()
  /** idle sockets; the last one in is reused first */
  readonly idle: Connection[] = []
  /** posts waiting for a socket, first in first served; settled ones are skipped */
  readonly queue: Attempt[] = []

  constructor (target: Http1Target) {
    this.host = target.host
    this.hostname = target.hostname
    this.port = target.port
  }
}

/** One socket with its parser and the attempt it carries. */
class Connection {
  readonly socket: net.Socket
  readonly origin: Origin
  readonly parser = new ResponseParser()
  attempt: Attempt | undefined
  idle = false
  idleTimer: NodeJS.Timeout | undefined

  constructor (socket: net.Socket, origin: Origin) {
    this.socket = socket
    this.origin = origin
  }
}

/** POSTs JSON over pooled keep-alive HTTP/1.1 connections, one attempt per call. */
export class Http1Client {
  readonly #maxSockets: number
  readonly #keepAliveMs: number
  readonly #origins = new Map<string, Origin>()
  #closed = false

  constructor (opts: Http1ClientOptions) {
    this.#maxSockets = opts.maxSockets
    this.#keepAliveMs = opts.keepAliveMs
  }

  /**
   * One attempt: POSTs `body` as application/json with `headerLines` (already validated
   * `Name: value\r\n` lines). Rejects with a `RetryableFailure` when the hook was never
   * reached or hung up before any byte of a reply, else with `ERR_HOOK_TIMEOUT` or
   * `ERR_HOOK_FAILED`.
   */
  post (target: Http1Target, headerLines: string, body: Buffer, timeoutMs: number, maxReplyBytes: number): Promise<Http1Reply> {
    if (this.#closed) return Promise.reject(new HookFailedError('client closed'))
    const head = `POST ${target.path} HTTP/1.1\r\nHost: ${target.host}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n${headerLines}\r\n`
    let attempt: Attempt
    if (body.length <= COPY_BODY_BYTES) {
      // One buffer, one write: measured cheaper than two corked writes for small bodies.
      const request = Buffer.allocUnsafe(head.length + body.length)
      request.write(head, 0, 'latin1')
      body.copy(request, head.length)
      attempt = new Attempt(request, undefined, maxReplyBytes, timeoutMs)
    } else {
      attempt = new Attempt(Buffer.from(head, 'latin1'), body, maxReplyBytes, timeoutMs)
    }
    attempt.timer = setTimeout(attemptOnTimeout, timeoutMs, attempt)
    attempt.timer.unref()
    let origin = this.#origins.get(target.host)
    if (origin === undefined) {
      origin = new Origin(target)
      this.#origins.set(target.host, origin)
    }
    this.#dispatch(origin, attempt)
    return attempt.promise
  }

  /** Destroys every socket; posts in flight or queued fail with `ERR_HOOK_FAILED`. */
  close (): void {
    if (this.#closed) return
    this.#closed = true
    for (const origin of this.#origins.values()) {
      for (const attempt of origin.queue) fail(attempt, new HookFailedError('client closed'))
      origin.queue.length = 0
      for (const conn of origin.all) {
        const attempt = conn.attempt
        conn.attempt = undefined
        if (attempt !== undefined) fail(attempt, new HookFailedError('client closed'))
        discard(conn)
      }
    }
    this.#origins.clear()
  }

  #dispatch (origin: Origin, attempt: Attempt): void {
    let conn = origin.idle.pop()
    // Node destroys a socket on a read error a tick before its 'error' and 'close': one
    // destroyed in that gap must not carry a post (the write would fail as not retryable).
    /* c8 ignore next 4 */
    while (conn !== undefined && conn.socket.destroyed) {
      conn.idle = false
      conn = origin.idle.pop()
    }
    if (conn !== undefined) this.#assign(conn, attempt)
    else if (origin.all.size < this.#maxSockets) this.#assign(this.#connect(origin), attempt)
    else origin.queue.push(attempt)
  }

  #assign (conn: Connection, attempt: Attempt): void {
    if (conn.idle) {
      conn.idle = false
      conn.socket.ref()
    }
    conn.attempt = attempt
    attempt.conn = conn
    // A pooled socket is connected; a new one is not yet, and its 'connect' says when.
    attempt.connected = !conn.socket.connecting
    conn.parser.reset(attempt.maxReplyBytes)
    const socket = conn.socket
    if (attempt.body === undefined) {
      socket.write(attempt.request as Buffer)
    } else {
      socket.cork()
      socket.write(attempt.request as Buffer)
      socket.write(attempt.body)
      socket.uncork()
    }
    attempt.request = undefined
    attempt.body = undefined
  }

  // A socket that finished its reply: to the next queued post, or idle.
  #release (conn: Connection): void {
    const queue = conn.origin.queue
    while (queue.length > 0) {
      const next = queue.shift() as Attempt
      if (!next.done) {
        this.#assign(conn, next)
        return
      }
    }
    conn.idle = true
    // Like node's agent: an idle socket must not hold the process open.
    conn.socket.unref()
    conn.origin.idle.push(conn)
    if (conn.idleTimer === undefined) {
      conn.idleTimer = setTimeout(connectionOnIdleTimeout, this.#keepAliveMs, conn)
      conn.idleTimer.unref()
    } else {
      // Re-armed each time the socket goes idle; when it fires on a busy socket it does nothing.
      conn.idleTimer.refresh()
    }
  }

  #connect (origin: Origin): Connection {
    const client = this
    const socket = net.connect({ host: origin.hostname, port: origin.port, noDelay: true })
    const conn = new Connection(socket, origin)
    origin.all.add(conn)
    // Listeners per socket, not per request: each one finds the current attempt on `conn`.
    socket.on('connect', socketOnConnect)
    socket.on('data', socketOnData)
    socket.on('end', socketOnEnd)
    socket.on('error', socketOnError)
    socket.on('close', socketOnClose)
    return conn

    function socketOnConnect (): void {
      if (conn.attempt !== undefined) conn.attempt.connected = true
    }

    function socketOnData (chunk: Buffer): void {
      client.#onData(conn, chunk)
    }

    function socketOnEnd (): void {
      const attempt = conn.attempt
      conn.attempt = undefined
      if (attempt !== undefined) endAttempt(conn, attempt)
      discard(conn)
    }

    function socketOnError (err: Error): void {
      const attempt = conn.attempt
      if (attempt === undefined) return // an idle socket: 'close' follows and drops it
      conn.attempt = undefined
      if (attempt.answered) fail(attempt, new HookFailedError('reply cut short', err))
      else if (isConnectError(err)) fail(attempt, new RetryableFailure(err))
      else fail(attempt, new HookFailedError('request failed', err))
    }

    function socketOnClose (): void {
      client.#onClose(conn)
    }
  }

  #onData (conn: Connection, chunk: Buffer): void {
    const attempt = conn.attempt
    if (attempt === undefined) {
      // Bytes nobody asked for, on an idle socket: its stream can no longer be trusted.
      discard(conn)
      return
    }
    attempt.answered = true
    const parser = conn.parser
    let complete: boolean
    try {
      complete = parser.push(chunk)
    } catch (err) {
      conn.attempt = undefined
      fail(attempt, new HookFailedError('invalid reply', err))
      discard(conn)
      return
    }
    if (!complete) return
    conn.attempt = undefined
    // Taken before the socket goes to the next post, which resets the parser.
    const reply: Http1Reply = { status: parser.status, body: parser.body }
    // Bytes past the reply would be read as the next one's start: such a socket is not reused.
    if (parser.keepAlive && parser.extraBytes === 0 && !this.#closed) this.#release(conn)
    else discard(conn)
    succeed(attempt, reply)
  }

  #onClose (conn: Connection): void {
    const origin = conn.origin
    origin.all.delete(conn)
    clearTimeout(conn.idleTimer)
    if (conn.idle) dropIdle(conn)
    const attempt = conn.attempt
    conn.attempt = undefined
    if (attempt !== undefined) endAttempt(conn, attempt)
    if (this.#closed) return
    // A freed slot goes to the next queued post.
    const queue = origin.queue
    while (queue.length > 0 && origin.all.size < this.#maxSockets) {
      const next = queue.shift() as Attempt
      if (!next.done) this.#assign(this.#connect(origin), next)
    }
    if (origin.all.size === 0 && queue.length === 0 && this.#origins.get(origin.host) === origin) {
      this.#origins.delete(origin.host)
    }
  }
}

// The connection ended while an attempt was on it.
function endAttempt (conn: Connection, attempt: Attempt): void {
  const parser = conn.parser
  if (parser.end()) {
    succeed(attempt, { status: parser.status, body: parser.body })
  } else if (attempt.answered) {
    fail(attempt, new HookFailedError('reply cut short'))
  } else {
    // As node's 'socket hang up': typically a pooled socket the server closed as we reused it.
    const err: NodeJS.ErrnoException = new Error('connection closed before any reply')
    err.code = 'ECONNRESET'
    fail(attempt, new RetryableFailure(err))
  }
}

function attemptOnTimeout (attempt: Attempt): void {
  const err = new HookTimeoutError(attempt.timeoutMs)
  const conn = attempt.conn
  // A hook that was connected and did not answer in time may have acted on the request:
  // retrying could deliver twice, so the timeout is final. A post that never had a connected
  // socket (connect timed out, or queued for a pooled socket) reached nobody.
  fail(attempt, attempt.connected || attempt.answered ? err : new RetryableFailure(err))
  if (conn !== undefined) {
    conn.attempt = undefined
    discard(conn)
  }
}

function connectionOnIdleTimeout (conn: Connection): void {
  if (conn.idle) discard(conn)
}

// Destroys the socket; an idle one leaves the pool now, not at its 'close'.
function discard (conn: Connection): void {
  if (conn.idle) dropIdle(conn)
  conn.socket.destroy()
}

function dropIdle (conn: Connection): void {
  conn.idle = false
  const idle = conn.origin.idle
  const i = idle.lastIndexOf(conn)
  if (i !== -1) idle.splice(i, 1)
}

function succeed (attempt: Attempt, reply: Http1Reply): void {
  if (attempt.done) return
  attempt.done = true
  clearTimeout(attempt.timer)
  attempt.conn = undefined
  attempt.resolve(reply)
}

function fail (attempt: Attempt, err: unknown): void {
  if (attempt.done) return
  attempt.done = true
  clearTimeout(attempt.timer)
  attempt.conn = undefined
  attempt.request = undefined
  attempt.body = undefined
  attempt.reject(err)
}
