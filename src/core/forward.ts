/**
 * Forwarding to another coordinator (SPEC 4 step 6): the request is POSTed to its
 * `taskURL` with our `/proxy` as the hook, so that the remote coordinator's response comes
 * back through us; a request stream is handed on as our own `/stream` URL.
 */
import { CoordinatorError } from './errors.js'
import { formatUrl, type MsgUrl } from './go-url.js'
import { decodeResponse, encodeRequest, type Request, type Response } from './message.js'
import type { StreamProxy } from './streams.js'
import type { HookClient } from '../http/hook-client.js'

export interface ForwarderOptions {
  hooks: HookClient
  streams: StreamProxy
  /** `http://localhost:P/proxy` (known once the port is bound) */
  proxyHookUrl: () => MsgUrl
  peerUrlForm: 'go' | 'string'
  timeoutMs: number
  retries: number
  headers?: Record<string, string>
}

/** Forwards requests to other coordinators and decodes their acks. */
export class Forwarder {
  readonly #o: ForwarderOptions

  constructor (opts: ForwarderOptions) {
    this.#o = opts
  }

  /** POSTs the request to `taskURL`; resolves with the remote coordinator's ack. */
  async forward (request: Request, taskURL: MsgUrl, wantsResponse: boolean): Promise<Response> {
    const { streams, proxyHookUrl, peerUrlForm, timeoutMs, retries, headers } = this.#o
    const copy: Request = {
      ...request,
      taskURL: null,
      responseHook: wantsResponse ? proxyHookUrl() : null,
      streamURL: request.streamURL === null ? null : streams.proxyUrl(request.streamURL)
    }
    const target = formatUrl(taskURL)
    let answer
    try {
      answer = await this.#o.hooks.post(target, encodeRequest(copy, peerUrlForm), {
        timeoutMs, retries, ...(headers === undefined ? {} : { headers })
      })
    } catch (err) {
      throw new CoordinatorError('ERR_FORWARD_FAILED', `forwarding to ${target} failed: ${(err as Error).message}`)
    }
    try {
      return decodeResponse(answer.body)
    } catch (err) {
      throw new CoordinatorError('ERR_FORWARD_FAILED', `malformed ack from ${target} (status ${answer.status}): ${(err as Error).message}`)
    }
  }
}
