/**
 * The coordinator: wiring of the pipeline stages to the ingresses, and its lifecycle
 * (SPEC 8). The TypeScript shape of the original's NewServer / Start / Stop / StopOnSignal.
 */
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { Config } from './config.js'
import { CoordinatorMetrics, type GuardedRoute } from './coordinator-metrics.js'
import { CoordinatorError } from './errors.js'
import { Delivery } from './delivery.js'
import { Forwarder } from './forward.js'
import { emptyUrl, parseUrlString, unixUrl, type MsgUrl } from './go-url.js'
import {
  httpProxyRoute, httpRequestRoute, unixErrorAck, unixRequestHandler, unixResponseHandler
} from './ingress.js'
import { silentLogger, type Logger } from './log.js'
import { httpHealthRoute, httpMetricsRoute, httpTasksRoute } from './health-routes.js'
import { ackResponse } from './message.js'
import { guardRoute, loadAuthToken, peerHeaders, type DenyForm } from './peer-auth.js'
import { ProviderHealth } from './provider-health.js'
import { ProviderDirectory } from './providers.js'
import { ResponseGate } from './response-gate.js'
import { Router } from './router.js'
import { httpStreamMethodRoute, httpStreamRoute } from './stream-route.js'
import { StreamProxy } from './streams.js'
import { Tracker, type TrackedRequest } from './tracker.js'
import type { BearerToken } from '../http/auth.js'
import { HookClient } from '../http/hook-client.js'
import { ExternalServer, type RouteHandler } from '../http/server.js'
import { UnixServer } from '../net/unix-server.js'

/** How long close() of a listener waits for exchanges in progress. */
const CLOSE_TIMEOUT_MS = 5_000
/** Mode of the directories the coordinator creates (the original made them world-writable). */
const DIR_MODE = 0o755
/** The directories of socket_dir that are the coordinator's own, not task directories. */
const OWN_DIRS: ReadonlySet<string> = new Set(['coordinator', 'response', 'streams'])

export interface CoordinatorOptions {
  log?: Logger
}

/** Where a started coordinator listens. */
export interface Addresses {
  httpPort: number
  requestSocket: string
  responseSocket: string
}

/** One coordinator: create, `start()`, `stop()`. */
export class Coordinator {
  readonly config: Config
  readonly log: Logger
  readonly tracker: Tracker
  readonly delivery: Delivery
  /** what `GET /metrics` shows */
  readonly metrics: CoordinatorMetrics
  readonly #token: BearerToken | undefined
  readonly #health: ProviderHealth
  readonly #providers: ProviderDirectory
  readonly #hooks: HookClient
  readonly #streams: StreamProxy
  readonly #router: Router
  readonly #responseGate: ResponseGate
  readonly #requestServer: UnixServer
  readonly #responseServer: UnixServer
  readonly #httpServer: ExternalServer
  #httpPort = 0
  // Both depend on the bound port only: parsed once in start(), not per request.
  #publicBaseUrl: MsgUrl = emptyUrl()
  #proxyHookUrl: MsgUrl = emptyUrl()
  #state: 'new' | 'starting' | 'running' | 'draining' | 'stopped' = 'new'
  #stopping: Promise<void> | undefined

  constructor (config: Config, opts: CoordinatorOptions = {}) {
    this.config = config
    const log = this.log = opts.log ?? silentLogger
    // Read first: a bad token file is a configuration error, before anything is set up.
    const token = this.#token = loadAuthToken(config.authTokenFile, log)
    const toPeers = peerHeaders(token)
    const requestSocket = join(config.socketDir, 'coordinator', `${config.serviceName}.sock`)
    const responseSocket = join(config.socketDir, 'response', `${config.serviceName}.sock`)

    this.#providers = new ProviderDirectory({ socketDir: config.socketDir, maxAgeMs: config.providerCacheMs })
    this.#health = new ProviderHealth({ cooldownMs: config.providerCooldownMs })
    this.#hooks = new HookClient()
    this.delivery = new Delivery({
      hooks: this.#hooks,
      log,
      timeoutMs: config.hookTimeoutMs,
      retries: config.hookRetries,
      maxFrameBytes: config.maxFrameBytes,
      ...(toPeers === undefined ? {} : { peerHeaders: toPeers })
    })
    this.#responseGate = new ResponseGate({ limit: config.maxPendingResponses, waitMs: config.dispatchTimeoutMs })
    this.tracker = new Tracker({
      timeoutMs: config.requestTimeoutMs,
      maxTracked: config.maxTracked,
      onTimeout: request => { this.#onTrackedTimeout(request) },
      onUntrack: request => { if (request.answerVia === 'unix') this.#responseGate.release() }
    })
    this.#streams = new StreamProxy({
      baseUrl: () => this.#publicBaseUrl,
      ttlMs: config.requestTimeoutMs,
      socketDir: join(config.socketDir, 'streams'),
      maxSockets: config.maxStreamSockets,
      readBytes: config.streamReadBytes,
      // every issued address belongs to a tracked request's response or forward
      maxIssued: config.maxTracked,
      sourceTimeoutMs: config.hookTimeoutMs,
      socketMode: config.socketMode,
      dirMode: DIR_MODE,
      log
    })
    const forwarder = new Forwarder({
      hooks: this.#hooks,
      streams: this.#streams,
      proxyHookUrl: () => this.#proxyHookUrl,
      peerUrlForm: config.peerUrlForm,
      timeoutMs: config.dispatchTimeoutMs,
      retries: config.hookRetries,
      ...(toPeers === undefined ? {} : { headers: toPeers })
    })
    this.metrics = new CoordinatorMetrics({
      tracked: () => this.tracker.size,
      waitingForSlot: () => this.#responseGate.waiting,
      deliveries: () => ({ ...this.delivery.counts, inFlight: this.delivery.inFlight }),
      streams: () => ({ ...this.#streams.stats, openSockets: this.#streams.openSockets }),
      providersCoolingDown: () => this.#health.coolingCount(),
      draining: () => this.#state === 'draining'
    })
    this.#router = new Router({
      log,
      providers: this.#providers,
      tracker: this.tracker,
      responseGate: this.#responseGate,
      delivery: this.delivery,
      forwarder,
      streams: this.#streams,
      peerUrlForm: config.peerUrlForm,
      dispatchTimeoutMs: config.dispatchTimeoutMs,
      maxFrameBytes: config.maxFrameBytes,
      responseSocketUrl: unixUrl(responseSocket),
      isDraining: () => this.#state === 'draining',
      ownDirs: OWN_DIRS,
      health: this.#health,
      metrics: this.metrics,
      ...(toPeers === undefined ? {} : { peerHeaders: toPeers })
    })

    const unixOptions = {
      errorAck: unixErrorAck,
      maxFrameBytes: config.maxFrameBytes,
      readTimeoutMs: config.readTimeoutMs,
      closeTimeoutMs: CLOSE_TIMEOUT_MS,
      socketMode: config.socketMode,
      dirMode: DIR_MODE
    }
    this.#requestServer = new UnixServer({ ...unixOptions, path: requestSocket, handle: unixRequestHandler(this.#router) })
    this.#responseServer = new UnixServer({ ...unixOptions, path: responseSocket, handle: unixResponseHandler(this.#router) })

    const limits = { maxBodyBytes: config.maxBodyBytes, bodyTimeoutMs: config.bodyTimeoutMs }
    const healthz = httpHealthRoute(() => this.#state)
    const tasks = httpTasksRoute({
      socketDir: config.socketDir, providers: this.#providers, health: this.#health, ownDirs: OWN_DIRS, log
    })
    this.#httpServer = new ExternalServer({
      host: config.bindAddress,
      port: config.externalPort,
      routes: [
        { path: '/healthz', method: 'GET', handle: healthz },
        { path: '/healthz', method: 'HEAD', handle: healthz },
        { path: '/metrics', method: 'GET', handle: this.#guard('metrics', httpMetricsRoute(this.metrics), 'text') },
        { path: '/tasks', method: 'GET', handle: this.#guard('tasks', tasks, 'text') },
        { path: '/proxy', handle: this.#guard('proxy', httpProxyRoute(this.#router, limits), 'json') },
        { path: '/stream', method: 'GET', handle: this.#guard('stream', httpStreamRoute(this.#streams), 'text') },
        { path: '/stream', handle: this.#guard('stream', httpStreamMethodRoute(), 'text') }
      ],
      fallback: this.#guard('request', httpRequestRoute(this.#router, limits), 'json'),
      headersTimeoutMs: config.headersTimeoutMs,
      requestTimeoutMs: config.bodyTimeoutMs,
      keepAliveTimeoutMs: config.keepAliveTimeoutMs,
      closeTimeoutMs: CLOSE_TIMEOUT_MS,
      maxBodyBytes: config.maxBodyBytes
    })
  }

  /** The listening addresses (the HTTP port is known once started). */
  get addresses (): Addresses {
    return {
      httpPort: this.#httpPort,
      requestSocket: this.#requestServer.path,
      responseSocket: this.#responseServer.path
    }
  }

  /** Proxied streams: issued addresses, one-shot sockets, and their counters (`stats`). */
  get streams (): StreamProxy {
    return this.#streams
  }

  /** Creates directories and sockets and listens; resolves when every listener is ready. */
  async start (): Promise<void> {
    if (this.#state !== 'new') throw new Error(`coordinator cannot start: it is ${this.#state}`)
    this.#state = 'starting'
    try {
      await mkdir(this.config.socketDir, { recursive: true, mode: DIR_MODE })
      // Responses first, so that nothing accepted can miss its way back.
      await this.#responseServer.listen()
      this.#httpPort = await this.#httpServer.listen()
      this.#proxyHookUrl = parseUrlString(`http://localhost:${this.#httpPort}/proxy`)
      this.#publicBaseUrl = parseUrlString(this.config.streamBaseUrl === '' ? `http://localhost:${this.#httpPort}` : this.config.streamBaseUrl)
      await this.#requestServer.listen()
    } catch (err) {
      await this.#closeAll()
      this.#state = 'stopped'
      throw err
    }
    this.#state = 'running'
    this.metrics.start()
    this.log.info('coordinator ready', {
      service: this.config.serviceName,
      http: `${this.config.bindAddress === '' ? '*' : this.config.bindAddress}:${this.#httpPort}`,
      requests: this.#requestServer.path,
      responses: this.#responseServer.path
    })
  }

  /**
   * Drains and stops: new requests are refused at once, every tracked request still gets
   * its response or its timeout, then every listener closes and its socket is removed.
   */
  stop (): Promise<void> {
    this.#stopping ??= this.#drainAndClose()
    return this.#stopping
  }

  /**
   * Stops on the first of `signals`; a second one forces the exit. `onStopped` runs after a
   * graceful stop (the CLI exits there).
   */
  stopOnSignal (onStopped: (err?: unknown) => void, signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM']): void {
    const onSignal = (signal: NodeJS.Signals): void => {
      if (this.#stopping !== undefined) {
        this.log.warn('second signal: exiting without draining', { signal })
        process.exit(1)
      }
      this.log.info('stopping: draining tracked requests', { signal, tracked: this.tracker.size })
      this.stop().then(() => { onStopped() }, onStopped)
    }
    for (const signal of signals) process.on(signal, onSignal)
  }

  async #drainAndClose (): Promise<void> {
    if (this.#state === 'new' || this.#state === 'stopped') { this.#state = 'stopped'; return }
    this.#state = 'draining'
    this.#responseGate.close(new CoordinatorError('ERR_SHUTTING_DOWN', 'coordinator is shutting down'))
    // No new internal requests; HTTP stays up (answering 503) for /proxy and /stream.
    await this.#requestServer.close()
    const drained = Promise.all([this.tracker.whenEmpty(), this.delivery.whenIdle()])
      .then(() => this.delivery.whenIdle())
    if (this.config.drainTimeoutMs > 0) {
      let timer: NodeJS.Timeout | undefined
      const timeout = new Promise<void>(resolve => { timer = setTimeout(resolve, this.config.drainTimeoutMs) })
      await Promise.race([drained, timeout])
      clearTimeout(timer)
    } else {
      await drained
    }
    await this.#closeAll()
    this.#state = 'stopped'
    this.log.info('coordinator stopped', { service: this.config.serviceName })
  }

  async #closeAll (): Promise<void> {
    await Promise.all([this.#requestServer.close(), this.#responseServer.close(), this.#httpServer.close()])
    // After the HTTP server: /stream readers got its grace period before their sources go.
    await this.#streams.close()
    this.#hooks.close()
    this.#providers.close()
    this.metrics.stop()
  }

  /** The route behind the bearer token when there is one; refusals are counted by route. */
  #guard (route: GuardedRoute, handle: RouteHandler, form: DenyForm): RouteHandler {
    if (this.#token === undefined) return handle
    const refused = this.metrics.unauthorizedCounter(route)
    return guardRoute(this.#token, handle, form, () => { refused.inc() })
  }

  #onTrackedTimeout (request: TrackedRequest): void {
    this.log.info('response timeout', { id: request.id, task: request.task })
    this.metrics.responseTimedOut()
    const response = ackResponse(request.id, 'response timeout')
    void this.delivery.deliver(request.hook, response, request.urlForm, request.task, request.toPeer === true)
  }
}
