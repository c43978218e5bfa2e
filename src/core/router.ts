/**
 * The request pipeline (SPEC 4), in order:
 *
 *   decode → substitute localhost (HTTP only) → route → provider lookup
 *          → track + rewrite hook and stream → dispatch with failover → ack
 *
 * and the response path (SPEC 5): ack at once → match the tracked request → rewrite the
 * stream URL → deliver to the caller's hook. Each stage lives in its own module; this file
 * only puts them in order. Every way out is an ack: nothing here throws to the ingress.
 */
import { CoordinatorError } from './errors.js'
import type { MsgUrl } from './go-url.js'
import type { Logger } from './log.js'
import {
  ackResponse, decodeRequest, decodeResponse, encodeRequest, MessageError,
  type Request, type Response
} from './message.js'
import { checkTaskName, type ProviderDirectory } from './providers.js'
import { substituteLocalhost } from './rewrite.js'
import type { Tracker } from './tracker.js'
import type { ResponseGate } from './response-gate.js'
import type { Delivery } from './delivery.js'
import { dispatch, sendMessage, type DispatchResult } from './dispatch.js'
import type { Forwarder } from './forward.js'
import type { StreamProxy } from './streams.js'
import type { CoordinatorMetrics } from './coordinator-metrics.js'
import type { ProviderHealth } from './provider-health.js'
import { isPeerProxyHook, isPeerStreamUrl } from './peer-auth.js'

/** Where a message came from: the HTTP port (with the client's host) or a unix socket. */
export interface Ingress {
  via: 'http' | 'unix'
  /** the client's host as a URL hostname, for localhost substitution ('' for unix) */
  client: string
}

/** The ack for the ingress to send, and the error code that decides its HTTP status. */
export interface Outcome {
  ack: Response
  code: string | undefined
}

export interface RouterOptions {
  log: Logger
  providers: ProviderDirectory
  tracker: Tracker
  /** bounds the tracked requests whose response comes to the response socket */
  responseGate: ResponseGate
  delivery: Delivery
  forwarder: Forwarder
  streams: StreamProxy
  /** the URL form written to providers and other coordinators */
  peerUrlForm: 'go' | 'string'
  dispatchTimeoutMs: number
  maxFrameBytes: number
  /** `unix://S/response/N.sock`: the hook providers get for tracked requests */
  responseSocketUrl: MsgUrl
  /** answers ERR_SHUTTING_DOWN while true */
  isDraining: () => boolean
  /** the directories of socket_dir that are the coordinator's own: refused as task names */
  ownDirs: ReadonlySet<string>
  /** the order to try providers in (load sharing, cool-down); without it, the lookup's order */
  health?: ProviderHealth
  metrics?: CoordinatorMetrics
  /** headers of requests to peer coordinators (the federation token), if any */
  peerHeaders?: Record<string, string>
}

/** Runs requests and responses through the pipeline stages. */
export class Router {
  readonly #o: RouterOptions

  constructor (opts: RouterOptions) {
    this.#o = opts
  }

  /** Handles one request message; resolves with the ack for its sender. */
  async handleRequest (bytes: Buffer, ingress: Ingress): Promise<Outcome> {
    const outcome = await this.#handleRequest(bytes, ingress)
    this.#o.metrics?.requestDone(ingress.via, outcome.code)
    return outcome
  }

  async #handleRequest (bytes: Buffer, ingress: Ingress): Promise<Outcome> {
    let request: Request
    try {
      request = decodeRequest(bytes)
    } catch (err) {
      return refuse(err instanceof MessageError ? err.id : '', err)
    }
    if (this.#o.isDraining()) {
      return refuse(request.id, new CoordinatorError('ERR_SHUTTING_DOWN', 'coordinator is shutting down'))
    }
    if (ingress.via === 'http') request = substituteRequestHosts(request, ingress.client)
    try {
      const taskURL = request.taskURL
      if (taskURL === null) await this.#runLocal(request, ingress)
      else if (taskURL.scheme === 'unix') return await this.#runOnSocket(request, taskURL)
      else return await this.#runRemote(request, taskURL, ingress)
      return { ack: ackResponse(request.id), code: undefined }
    } catch (err) {
      this.#o.log.info('request refused', { id: request.id, task: request.task, error: err })
      return refuse(request.id, err)
    }
  }

  /** Handles one response message (response socket or `/proxy`); resolves with its ack. */
  handleResponse (bytes: Buffer, ingress: Ingress): Outcome {
    let response: Response
    try {
      response = decodeResponse(bytes)
    } catch (err) {
      this.#o.log.warn('malformed response', { via: ingress.via, error: err })
      return refuse('', err)
    }
    // Acked at once; matching and delivery happen after the ack is on its way.
    setImmediate(routeResponse, this, response, ingress)
    return { ack: ackResponse(''), code: undefined }
  }

  /** @internal the response path after the ack; never rejects (a bug here is logged, not fatal). */
  async routeResponse (response: Response, ingress: Ingress): Promise<void> {
    try {
      await this.#routeResponse(response, ingress)
    } catch (err) {
      this.#o.log.error('response routing failed', { id: response.id, via: ingress.via, error: err })
    }
  }

  /** Matches the response to its tracked request, rewrites its stream URL, delivers it. */
  async #routeResponse (response: Response, ingress: Ingress): Promise<void> {
    // A response must come back the way its request went: else anyone who can reach /proxy
    // could answer, with a guessed id, a request a provider is working on (or the reverse),
    // and the real response would then be dropped.
    const tracked = this.#o.tracker.get(response.id)?.answerVia === ingress.via
      ? this.#o.tracker.settle(response.id)
      : undefined
    if (tracked === undefined) {
      this.#o.log.warn('response for no tracked request dropped', { id: response.id, via: ingress.via })
      this.#o.metrics?.responseUnmatched()
      return
    }
    let streamURL = response.streamURL
    if (streamURL !== null) {
      let headers: Record<string, string> | undefined
      if (ingress.via === 'http') {
        streamURL = substituteLocalhost(streamURL, ingress.client)
        if (isPeerStreamUrl(streamURL, ingress)) headers = this.#o.peerHeaders
      }
      streamURL = this.#o.streams.proxyUrl(streamURL, headers)
    }
    await this.#o.delivery.deliver(tracked.hook, { ...response, streamURL }, tracked.urlForm, tracked.task, tracked.toPeer === true)
  }

  /** A local task: look up its providers, track if needed, dispatch. */
  async #runLocal (request: Request, ingress: Ingress): Promise<void> {
    const { id, task } = request
    checkTaskName(task)
    // As a task, an own directory would send the request to the coordinator's own request
    // socket (which dispatches it to itself again, without end), to its response socket (taken
    // for a response to the request's own id), or to another request's one-shot stream socket.
    if (this.#o.ownDirs.has(task)) {
      throw new CoordinatorError('ERR_TASK_NAME', `invalid task name ${JSON.stringify(task)}: reserved for the coordinator's own sockets`)
    }
    const providers = await this.#o.providers.lookup(task)
    if (providers.length === 0) {
      throw new CoordinatorError('ERR_NO_PROVIDERS', 'no providers available for task')
    }
    const hook = request.responseHook
    // A unix hook is answered by the provider directly; no hook at all means no answer is
    // wanted. Only an http(s) hook comes back through the coordinator.
    const tracked = hook !== null && hook.scheme !== 'unix'
    let sent = request
    if (tracked) {
      const wait = this.#o.responseGate.acquire()
      if (wait !== undefined) await wait
      try {
        // the slot is given back when the request leaves the tracker (Tracker onUntrack)
        this.#o.tracker.track({ id, task, hook, urlForm: request.urlForm, startedAt: Date.now(), toPeer: isPeerProxyHook(hook, ingress), answerVia: 'unix' })
      } catch (err) {
        this.#o.responseGate.release()
        throw err
      }
      sent = { ...sent, responseHook: this.#o.responseSocketUrl }
    }
    try {
      sent = await this.#proxyRequestStream(sent, ingress)
      const payload = encodeRequest(sent, this.#o.peerUrlForm)
      const result = await this.#dispatch(task, providers, payload, id)
      this.#o.log.debug('request dispatched', { id, task, provider: result.provider, tried: result.tried })
    } catch (err) {
      this.#o.tracker.settle(id)
      // No provider took it: the one-shot stream socket made for it would wait for nobody.
      if (sent.streamURL !== request.streamURL && sent.streamURL !== null) this.#o.streams.release(sent.streamURL)
      throw err
    }
  }

  /** A `taskURL` naming a unix socket: sent there as is, untracked; its ack is the client's. */
  async #runOnSocket (request: Request, taskURL: MsgUrl): Promise<Outcome> {
    const payload = encodeRequest({ ...request, taskURL: null }, this.#o.peerUrlForm)
    const ack = await sendMessage(taskURL.path, payload, this.#sendOptions())
    return { ack: ackResponse(request.id, ack.error), code: ack.error === '' ? undefined : 'ERR_NO_PROVIDER_ACCEPTED' }
  }

  /** A `taskURL` naming another coordinator: tracked, forwarded; the remote ack is the client's. */
  async #runRemote (request: Request, taskURL: MsgUrl, ingress: Ingress): Promise<Outcome> {
    const { id, task } = request
    const hook = request.responseHook
    if (hook !== null) {
      this.#o.tracker.track({ id, task, hook, urlForm: request.urlForm, startedAt: Date.now(), toPeer: isPeerProxyHook(hook, ingress), answerVia: 'http' })
    }
    try {
      const remoteAck = await this.#o.forwarder.forward(request, taskURL, hook !== null)
      if (remoteAck.error !== '') {
        this.#o.tracker.settle(id)
        return { ack: ackResponse(id, remoteAck.error), code: 'ERR_FORWARD_REFUSED' }
      }
      return { ack: ackResponse(id), code: undefined }
    } catch (err) {
      this.#o.tracker.settle(id)
      throw err
    }
  }

  /** A non-unix request stream is served to the provider on a one-shot unix socket. */
  async #proxyRequestStream (request: Request, ingress: Ingress): Promise<Request> {
    const source = request.streamURL
    if (source === null || source.scheme === 'unix') return request
    const headers = isPeerStreamUrl(source, ingress) ? this.#o.peerHeaders : undefined
    const local = await this.#o.streams.serveRequestStream(source, request.id, headers)
    return { ...request, streamURL: local }
  }

  /** Dispatch in the health's order (rotation, cool-down), recording outcomes and metrics. */
  async #dispatch (task: string, providers: string[], payload: Buffer, id: string): Promise<DispatchResult> {
    const { health, metrics, log } = this.#o
    const order = health === undefined ? providers : health.order(task, providers)
    const started = performance.now()
    let failures = 0
    try {
      const result = await dispatch(order, payload, this.#sendOptions(), failure => {
        failures++
        log.info('provider failed', { id, task, provider: failure.provider, error: failure.error })
        metrics?.providerFailed()
        health?.failed(task, failure.provider, typeof failure.error === 'string' ? failure.error : failure.error.message)
      })
      health?.succeeded(task, result.provider)
      metrics?.dispatched((performance.now() - started) / 1000, result.tried)
      return result
    } catch (err) {
      metrics?.dispatched((performance.now() - started) / 1000, failures)
      throw err
    }
  }

  #sendOptions (): { timeoutMs: number, maxFrameBytes: number } {
    return { timeoutMs: this.#o.dispatchTimeoutMs, maxFrameBytes: this.#o.maxFrameBytes }
  }
}

function routeResponse (router: Router, response: Response, ingress: Ingress): void {
  void router.routeResponse(response, ingress)
}

/** Localhost substitution on the two URLs a remote client gives for itself. */
function substituteRequestHosts (request: Request, client: string): Request {
  const { responseHook, streamURL } = request
  if (responseHook === null && streamURL === null) return request
  return {
    ...request,
    responseHook: responseHook === null ? null : substituteLocalhost(responseHook, client),
    streamURL: streamURL === null ? null : substituteLocalhost(streamURL, client)
  }
}

function refuse (id: string, err: unknown): Outcome {
  const code = (err as { code?: unknown }).code
  const message = err instanceof Error ? err.message : String(err)
  return { ack: ackResponse(id, message), code: typeof code === 'string' ? code : 'ERR_INTERNAL' }
}
