/**
 * A provider: serves its tasks on `S/<task>/<priority>-<service>.sock`, acks each request,
 * runs the task's handler, and delivers the response to the request's hook (unix or http).
 * Output streams are served on one-shot sockets; calls to other tasks go through the
 * coordinator and come back on the provider's own response socket.
 */
import { Readable } from 'node:stream'
import { Delivery } from '../core/delivery.js'
import type { MsgUrl } from '../core/go-url.js'
import { ackResponse, decodeRequest, encodeResponse, MessageError, NULL_JSON, type Request, type Response } from '../core/message.js'
import { HookClient } from '../http/hook-client.js'
import { UnixServer } from '../net/unix-server.js'
import { ProviderConfigError, ProviderStateError, ProviderStoppedError, TaskTimeoutError } from './errors.js'
import {
  providerSettings, resolveTask, responseSocketPath, streamDir, taskSocketPath,
  type ProviderOptions, type ProviderSettings, type TaskSettings
} from './provider-options.js'
import { ResponseStreams } from './response-streams.js'
import { TaskClient, type CallOptions, type CallSpec } from './task-client.js'
import { isStreamOutput, toOutput, type TaskHandler } from './task-output.js'
import { TaskRequest } from './task-request.js'
import type { TaskResponse } from './task-response.js'

interface Task {
  name: string
  handler: TaskHandler
  priority: number
  timeoutMs: number
  server: UnixServer
}

const NEW = 0
const STARTING = 1
const RUNNING = 2
const STOPPING = 3
const STOPPED = 4
const STATE_NAMES = ['new', 'starting', 'running', 'stopping', 'stopped']
/** How long stop() still waits for handlers it aborted to return and deliver their error. */
const ABORT_GRACE_MS = 1_000

/** A provider of tasks: `task()` each handler, `start()`, and `stop()` (or `stopOnSignal()`). */
export class Provider {
  readonly #s: ProviderSettings
  readonly #tasks = new Map<string, Task>()
  readonly #hooks = new HookClient()
  readonly #delivery: Delivery
  readonly #client: TaskClient
  readonly #streams: ResponseStreams
  readonly #controllers = new Set<AbortController>()
  #idleWaiters: Array<() => void> = []
  #state = NEW
  #starting: Promise<void> | undefined
  #stopping: Promise<void> | undefined

  /** Checks the options (throws `ERR_PROVIDER_CONFIG`); nothing is created before `start()`. */
  constructor (opts: ProviderOptions) {
    const s = this.#s = providerSettings(opts)
    this.#delivery = new Delivery({
      hooks: this.#hooks,
      log: s.log,
      timeoutMs: s.hookTimeoutMs,
      retries: s.hookRetries,
      maxFrameBytes: s.maxFrameBytes
    })
    this.#client = new TaskClient({
      responseSocket: responseSocketPath(s),
      coordinatorUrl: s.coordinatorUrl,
      requestTimeoutMs: s.requestTimeoutMs,
      sendTimeoutMs: s.sendTimeoutMs,
      maxFrameBytes: s.maxFrameBytes,
      hooks: this.#hooks,
      log: s.log,
      ...(s.socketMode === undefined ? {} : { socketMode: s.socketMode })
    })
    this.#streams = new ResponseStreams({
      dirOf: task => streamDir(s, task),
      ttlMs: s.streamTtlMs,
      log: s.log,
      ...(s.socketMode === undefined ? {} : { socketMode: s.socketMode })
    })
  }

  /** The provider's service name. */
  get serviceName (): string {
    return this.#s.serviceName
  }

  /** The registered task names, in registration order. */
  get tasks (): string[] {
    return [...this.#tasks.keys()]
  }

  /** Handlers running now. */
  get running (): number {
    return this.#controllers.size
  }

  /** Where the provider's calls get their responses. */
  get responseSocket (): string {
    return responseSocketPath(this.#s)
  }

  /** The socket path of a registered task. */
  taskSocket (task: string): string {
    const entry = this.#tasks.get(task)
    if (entry === undefined) throw new ProviderConfigError(`task ${JSON.stringify(task)} is not registered`)
    return entry.server.path
  }

  /**
   * Registers a task handler, before `start()`. The handler gets a `TaskRequest` and returns
   * (or resolves with) the result, or `{ result, stream }` (or a bare Readable) to send an
   * output stream; what it throws becomes the response's error.
   */
  task (name: string, handler: TaskHandler, settings: TaskSettings = {}): this {
    if (this.#state !== NEW) throw new ProviderStateError('tasks are registered before start()')
    if (typeof handler !== 'function') throw new ProviderConfigError(`task ${JSON.stringify(name)}: the handler must be a function`)
    if (this.#tasks.has(name)) throw new ProviderConfigError(`task ${JSON.stringify(name)} is already registered`)
    const { priority, timeoutMs } = resolveTask(this.#s, name, settings)
    const server = new UnixServer({
      path: taskSocketPath(this.#s, name, priority),
      handle: async payload => this.#onRequestFrame(name, payload),
      errorAck: err => encodeResponse(ackResponse('', err.message), 'go'),
      maxFrameBytes: this.#s.maxFrameBytes,
      ...(this.#s.socketMode === undefined ? {} : { socketMode: this.#s.socketMode })
    })
    this.#tasks.set(name, { name, handler, priority, timeoutMs, server })
    return this
  }

  /** Creates the response socket and every task socket; rejects (and undoes) on any failure. */
  start (): Promise<void> {
    if (this.#state !== NEW) return Promise.reject(new ProviderStateError(`a provider starts once (it is ${STATE_NAMES[this.#state] ?? ''})`))
    this.#state = STARTING
    this.#starting = this.#listen()
    return this.#starting
  }

  /**
   * Stops gracefully: the task sockets are removed at once (new requests go elsewhere),
   * running handlers finish and their responses are delivered, unread output streams get
   * their chance, then the response socket closes. After `stopTimeoutMs`, handlers still
   * running are aborted through their signal. Idempotent.
   */
  stop (): Promise<void> {
    this.#stopping ??= this.#shutdown()
    return this.#stopping
  }

  /**
   * Stops on the first of `signals`; a second one exits at once. `onStopped` runs after the
   * stop (by default: exit status 1 if it failed, and the process ends when idle).
   */
  stopOnSignal (onStopped?: (err?: unknown) => void, signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM']): void {
    const log = this.#s.log
    const done = onStopped ?? ((err?: unknown) => {
      if (err !== undefined) {
        log.error('provider failed to stop cleanly', { error: err })
        process.exitCode = 1
      }
    })
    const onSignal = (signal: NodeJS.Signals): void => {
      if (this.#stopping !== undefined) {
        log.warn('second signal: exiting without waiting', { signal })
        process.exit(1)
      }
      log.info('stopping: finishing running tasks', { signal, running: this.running })
      this.stop().then(() => {
        for (const s of signals) process.off(s, onSignal)
        done()
      }, (err: unknown) => {
        for (const s of signals) process.off(s, onSignal)
        done(err)
      })
    }
    for (const signal of signals) process.on(signal, onSignal)
  }

  /** Calls a task through the coordinator and resolves with its response (the original's `SyncRequest`). */
  call (task: string, args?: unknown, opts?: CallOptions): Promise<TaskResponse> {
    return this.#client.call(task, args, opts)
  }

  /** Makes several calls at once; resolves with every response by name (the original's `MultiRequest`). */
  callMany<K extends string> (calls: Readonly<Record<K, CallSpec>>, opts?: CallOptions): Promise<Record<K, TaskResponse>> {
    return this.#client.callMany(calls, opts)
  }

  async #listen (): Promise<void> {
    const started: Array<{ close (): Promise<void> }> = []
    try {
      await this.#client.listen()
      started.push(this.#client)
      for (const task of this.#tasks.values()) {
        await task.server.listen()
        started.push(task.server)
      }
    } catch (err) {
      await Promise.allSettled(started.map(async s => { await s.close() }))
      this.#hooks.close()
      this.#state = STOPPED
      throw err
    }
    this.#state = RUNNING
    this.#s.log.info('provider ready', {
      service: this.#s.serviceName,
      tasks: [...this.#tasks.values()].map(t => t.server.path),
      responses: this.responseSocket
    })
  }

  async #shutdown (): Promise<void> {
    if (this.#state === NEW) {
      this.#state = STOPPED
      return
    }
    if (this.#starting !== undefined) await this.#starting.catch(() => {})
    if (this.#state === STOPPED) return
    this.#state = STOPPING
    const log = this.#s.log
    const deadline = Date.now() + this.#s.stopTimeoutMs
    await Promise.all([...this.#tasks.values()].map(async t => { await t.server.close() }))
    // A handler's entry is removed once its response is delivered: idle means delivered too.
    const finished = await within(this.#whenIdle(), deadline)
    if (!finished) {
      log.warn('stop timeout: aborting running tasks', { running: this.running })
      for (const controller of this.#controllers) controller.abort(new ProviderStoppedError())
      // aborted handlers still answer (with their error) if they return promptly
      await within(this.#whenIdle(), Date.now() + ABORT_GRACE_MS)
    }
    await within(this.#streams.whenIdle(), deadline)
    this.#streams.closeAll()
    try {
      await this.#client.close()
    } finally {
      this.#hooks.close()
      this.#state = STOPPED
      log.info('provider stopped', { service: this.#s.serviceName })
    }
  }

  /** Answers one request frame of `task` with its ack; the handler runs after the ack. */
  #onRequestFrame (task: string, payload: Buffer): Buffer {
    let request: Request
    try {
      request = decodeRequest(payload)
    } catch (err) {
      return ack(err instanceof MessageError ? err.id : '', (err as Error).message)
    }
    if (request.task !== task) return ack(request.id, `this socket serves task ${task}, not ${request.task}`)
    if (this.#state >= STOPPING) return ack(request.id, 'provider is stopping')
    if (this.#controllers.size >= this.#s.maxRunning) return ack(request.id, 'provider is busy')
    const entry = this.#tasks.get(task)
    /* c8 ignore next */
    if (entry === undefined) return ack(request.id, `no handler for task ${task}`)
    const controller = new AbortController()
    this.#controllers.add(controller)
    setImmediate(this.#runTask, entry, request, controller)
    return ack(request.id)
  }

  // A field, passed to setImmediate with its arguments: no closure per request.
  #runTask = (task: Task, request: Request, controller: AbortController): void => {
    void this.#run(task, request, controller)
  }

  /** Runs a task's handler and delivers its response. */
  async #run (task: Task, request: Request, controller: AbortController): Promise<void> {
    try {
      const response = await this.#respond(task, request, controller)
      const hook = request.responseHook
      if (hook === null) {
        this.#s.log.debug('no response hook: response dropped', { id: request.id, task: task.name })
      } else {
        await this.#delivery.deliver(hook, response, request.urlForm, task.name)
      }
    } finally {
      this.#controllers.delete(controller)
      if (this.#controllers.size === 0) this.#notifyIdle()
    }
  }

  async #respond (task: Task, request: Request, controller: AbortController): Promise<Response> {
    const { id } = request
    let timer: NodeJS.Timeout | undefined
    let timedOut = false
    try {
      const running = Promise.resolve().then(() => task.handler(new TaskRequest(request, controller.signal)))
      let value: unknown
      if (task.timeoutMs > 0) {
        const timeout = new Promise<never>((resolve, reject) => {
          timer = setTimeout(() => { timedOut = true; reject(new TaskTimeoutError(task.timeoutMs)) }, task.timeoutMs)
          timer.unref()
        })
        // A handler that answers after its timeout is not waited for; its stream is released.
        running.then(late => { if (timedOut) releaseStream(late) }, () => {})
        value = await Promise.race([running, timeout])
      } else {
        value = await running
      }
      let output
      try {
        output = toOutput(value)
      } catch (err) {
        releaseStream(value)
        throw err
      }
      let streamURL: MsgUrl | null = null
      if (output.stream !== undefined) streamURL = await this.#streams.serve(task.name, output.stream)
      return { id, result: output.result, streamURL, error: '', urlForm: request.urlForm }
    } catch (err) {
      if (timedOut) controller.abort(err)
      const message = err instanceof Error ? err.message : String(err)
      this.#s.log.info('task failed', { id, task: task.name, error: err })
      // The original wraps a handler's error as "<service> <task>: <message>".
      return { id, result: NULL_JSON, streamURL: null, error: `${this.#s.serviceName} ${task.name}: ${message}`, urlForm: request.urlForm }
    } finally {
      clearTimeout(timer)
    }
  }

  #whenIdle (): Promise<void> {
    if (this.#controllers.size === 0) return Promise.resolve()
    return new Promise(resolve => { this.#idleWaiters.push(resolve) })
  }

  #notifyIdle (): void {
    const waiters = this.#idleWaiters
    this.#idleWaiters = []
    for (const resolve of waiters) resolve()
  }
}

function ack (id: string, error = ''): Buffer {
  return encodeResponse(ackResponse(id, error), 'go')
}

function releaseStream (value: unknown): void {
  if (value instanceof Readable) value.destroy()
  else if (isStreamOutput(value) && value.stream instanceof Readable) value.stream.destroy()
}

/** Waits for `p` until `deadline` (epoch ms); resolves whether it settled in time. */
async function within (p: Promise<unknown>, deadline: number): Promise<boolean> {
  const left = deadline - Date.now()
  if (left <= 0) return false
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<boolean>(resolve => { timer = setTimeout(resolve, left, false) })
  try {
    return await Promise.race([p.then(() => true), timeout])
  } finally {
    clearTimeout(timer)
  }
}
