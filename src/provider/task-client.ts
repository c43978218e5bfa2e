/**
 * Calls from a provider to other tasks through the coordinator (the original's `SyncRequest`
 * and `MultiRequest`): each call is sent with the provider's own response socket as its hook
 * and waits there, with its own timer, for the response of the same id.
 */
import { randomUUID } from 'node:crypto'
import { formatUrl, unixUrl, type MsgUrl } from '../core/go-url.js'
import type { Logger } from '../core/log.js'
import { ackResponse, decodeResponse, encodeRequest, encodeResponse, type Response } from '../core/message.js'
import type { HookClient } from '../http/hook-client.js'
import { exchange } from '../net/unix-client.js'
import { UnixServer } from '../net/unix-server.js'
import {
  CallAbortedError, CallFailedError, CallInvalidError, CallRefusedError, CallSendError, CallTimeoutError,
  ProviderError, ProviderStateError, ProviderStoppedError
} from './errors.js'
import { jsonBytes } from './raw-json.js'
import { TaskResponse } from './task-response.js'
import { urlOption } from './url-option.js'

/** How one call is made; every field is optional. */
export interface CallOptions {
  /** bound on the wait for the response (default: the provider's request timeout) */
  timeoutMs?: number
  /** where the request is sent (default: the provider's coordinator URL) */
  coordinatorUrl?: string | MsgUrl
  /** another coordinator (http) or a unix socket that should run the task */
  taskURL?: string | MsgUrl
  /** a stream the called task may read */
  streamURL?: string | MsgUrl
  /** aborts the wait (the request, once sent, is not recalled) */
  signal?: AbortSignal
}

/** One call of a `callMany`: the task, its args, and its options. */
export interface CallSpec extends CallOptions {
  task: string
  args?: unknown
}

/** Options of a TaskClient. */
export interface TaskClientOptions {
  /** the response socket, `S/response/<service>.sock` */
  responseSocket: string
  /** the default destination of calls */
  coordinatorUrl: MsgUrl | undefined
  /** default wait for a response */
  requestTimeoutMs: number
  /** time for the coordinator to ack a call */
  sendTimeoutMs: number
  maxFrameBytes: number
  hooks: HookClient
  log: Logger
  socketMode?: number
}

interface Pending {
  resolve: (response: TaskResponse) => void
  reject: (err: ProviderError) => void
  timer: NodeJS.Timeout
  signal: AbortSignal | undefined
  onAbort: (() => void) | undefined
}

/** Attempts to reach an http(s) coordinator; only failures to connect are retried. */
const HTTP_SEND_ATTEMPTS = 2

// setTimeout() turns any delay above 2^31-1 ms into 1 ms.
const MAX_TIMER_MS = 2 ** 31 - 1

const NEW = 0
const RUNNING = 1
const CLOSED = 2

/** Sends requests through the coordinator and matches the responses to their callers. */
export class TaskClient {
  readonly #o: TaskClientOptions
  readonly #server: UnixServer
  readonly #hookUrl: MsgUrl
  readonly #pending = new Map<string, Pending>()
  #state = NEW

  constructor (opts: TaskClientOptions) {
    this.#o = opts
    this.#hookUrl = unixUrl(opts.responseSocket)
    this.#server = new UnixServer({
      path: opts.responseSocket,
      handle: async payload => this.#onResponseFrame(payload),
      errorAck: err => encodeResponse(ackResponse('', err.message), 'go'),
      maxFrameBytes: opts.maxFrameBytes,
      ...(opts.socketMode === undefined ? {} : { socketMode: opts.socketMode })
    })
  }

  /** The hook the calls carry: this client's response socket. */
  get hookUrl (): MsgUrl {
    return this.#hookUrl
  }

  /** Calls waiting for their response. */
  get pending (): number {
    return this.#pending.size
  }

  /** Creates the response socket. */
  async listen (): Promise<void> {
    if (this.#state !== NEW) throw new ProviderStateError('the task client listens once')
    await this.#server.listen()
    this.#state = RUNNING
  }

  /**
   * Calls `task` and resolves with its response (the original's `SyncRequest`). Rejects with
   * `ERR_CALL_FAILED` (the task answered an error; `.response` holds it), `ERR_CALL_REFUSED`,
   * `ERR_CALL_SEND`, `ERR_CALL_TIMEOUT`, `ERR_CALL_ABORTED`, `ERR_CALL_INVALID`,
   * `ERR_JSON_VALUE` or `ERR_PROVIDER_STOPPED`.
   */
  async call (task: string, args?: unknown, opts: CallOptions = {}): Promise<TaskResponse> {
    const response = await this.#send(task, args, opts)
    if (!response.ok) throw new CallFailedError(response)
    return response
  }

  /**
   * Makes several calls at once and resolves, when all are answered, with their responses by
   * name (the original's `MultiRequest`). Never rejects: a call that failed on this side has
   * a response whose `error` says why and whose `code` is the failure's code.
   */
  async callMany<K extends string> (calls: Readonly<Record<K, CallSpec>>, opts: CallOptions = {}): Promise<Record<K, TaskResponse>> {
    const names = Object.keys(calls) as K[]
    const responses = await Promise.all(names.map(name => {
      const spec = calls[name]
      return this.#send(spec.task, spec.args, { ...opts, ...spec }).catch((err: unknown) => new TaskResponse({
        id: '',
        error: err instanceof Error ? err.message : String(err),
        code: (err as { code?: string }).code ?? 'ERR_CALL_SEND'
      }))
    }))
    const out = {} as Record<K, TaskResponse>
    names.forEach((name, i) => { out[name] = responses[i] as TaskResponse })
    return out
  }

  /** Closes the response socket; calls still waiting reject with `ERR_PROVIDER_STOPPED`. */
  async close (): Promise<void> {
    if (this.#state === CLOSED) return
    this.#state = CLOSED
    try {
      await this.#server.close()
    } finally {
      for (const id of [...this.#pending.keys()]) this.#settle(id, new ProviderStoppedError())
    }
  }

  async #send (task: string, args: unknown, opts: CallOptions): Promise<TaskResponse> {
    if (this.#state !== RUNNING) {
      throw this.#state === CLOSED ? new ProviderStoppedError() : new ProviderStateError('calls need a started provider')
    }
    if (typeof task !== 'string' || task === '') throw new CallInvalidError('a call needs a task name')
    const destination = this.#destination(opts.coordinatorUrl)
    const timeoutMs = opts.timeoutMs ?? this.#o.requestTimeoutMs
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0 || timeoutMs > MAX_TIMER_MS) {
      throw new CallInvalidError(`timeoutMs: ${String(timeoutMs)} is not a duration in ms (above 0, at most ${MAX_TIMER_MS})`)
    }
    const id = randomUUID()
    const payload = encodeRequest({
      id,
      task,
      taskURL: optionalUrl(opts.taskURL, 'taskURL'),
      responseHook: this.#hookUrl,
      streamURL: optionalUrl(opts.streamURL, 'streamURL'),
      args: jsonBytes(args, 'call args'),
      urlForm: 'go'
    }, 'go')
    if (opts.signal?.aborted === true) throw new CallAbortedError(opts.signal.reason)
    const answered = this.#track(id, timeoutMs, opts.signal)
    // It may settle (timeout, abort, stop) while the send is still under way: awaited below.
    answered.catch(() => {})
    try {
      const ack = await this.#deliver(destination, payload)
      if (ack.error !== '') throw new CallRefusedError(ack.error)
    } catch (err) {
      this.#settle(id, err instanceof ProviderError ? err : new CallSendError((err as Error).message, err))
    }
    return await answered
  }

  #destination (value: string | MsgUrl | undefined): MsgUrl {
    if (value === undefined) {
      if (this.#o.coordinatorUrl === undefined) throw new CallInvalidError('no coordinator URL: set the provider\'s coordinatorUrl or the call\'s')
      return this.#o.coordinatorUrl
    }
    try {
      return urlOption(value, 'coordinatorUrl')
    } catch (err) {
      throw new CallInvalidError((err as Error).message, err)
    }
  }

  #track (id: string, timeoutMs: number, signal: AbortSignal | undefined): Promise<TaskResponse> {
    return new Promise<TaskResponse>((resolve, reject) => {
      const timer = setTimeout(this.#onTimeout, timeoutMs, id).unref()
      let onAbort: (() => void) | undefined
      if (signal !== undefined) {
        onAbort = () => { this.#settle(id, new CallAbortedError(signal.reason)) }
        signal.addEventListener('abort', onAbort, { once: true })
      }
      this.#pending.set(id, { resolve, reject, timer, signal, onAbort })
    })
  }

  // A field, passed to setTimeout with the id: no closure per call.
  #onTimeout = (id: string): void => {
    this.#settle(id, new CallTimeoutError())
  }

  #settle (id: string, outcome: TaskResponse | ProviderError): boolean {
    const entry = this.#pending.get(id)
    if (entry === undefined) return false
    this.#pending.delete(id)
    clearTimeout(entry.timer)
    if (entry.onAbort !== undefined) entry.signal?.removeEventListener('abort', entry.onAbort)
    if (outcome instanceof TaskResponse) entry.resolve(outcome)
    else entry.reject(outcome)
    return true
  }

  async #deliver (destination: MsgUrl, payload: Buffer): Promise<Response> {
    const { sendTimeoutMs, maxFrameBytes } = this.#o
    let answer: Buffer
    if (destination.scheme === 'unix') {
      answer = await exchange(destination.path, payload, { timeoutMs: sendTimeoutMs, maxFrameBytes })
    } else {
      const reply = await this.#o.hooks.post(formatUrl(destination), payload, { timeoutMs: sendTimeoutMs, retries: HTTP_SEND_ATTEMPTS })
      answer = reply.body
    }
    try {
      return decodeResponse(answer)
    } catch (err) {
      throw new CallSendError(`malformed ack from ${formatUrl(destination)}: ${(err as Error).message}`, err)
    }
  }

  #onResponseFrame (payload: Buffer): Buffer {
    let response: Response
    try {
      response = decodeResponse(payload)
    } catch (err) {
      this.#o.log.warn('malformed response dropped', { error: err })
      return encodeResponse(ackResponse('', (err as Error).message), 'go')
    }
    const matched = this.#settle(response.id, TaskResponse.from(response))
    if (!matched) this.#o.log.warn('response for no pending call dropped', { id: response.id })
    return encodeResponse(ackResponse(''), 'go')
  }
}

function optionalUrl (value: string | MsgUrl | undefined, field: string): MsgUrl | null {
  if (value === undefined) return null
  try {
    return urlOption(value, field)
  } catch (err) {
    throw new CallInvalidError((err as Error).message, err)
  }
}
