/**
 * Dispatch (SPEC 4 step 5): hands a request to the task's providers in order until one
 * acks without error.
 */
import { CoordinatorError } from './errors.js'
import { decodeResponse, type Response } from './message.js'
import { exchange } from '../net/unix-client.js'

export interface SendOptions {
  timeoutMs: number
  maxFrameBytes: number
}

/** Sends one message over a unix socket and decodes the ack it answers with. */
export async function sendMessage (socketPath: string, payload: Buffer, opts: SendOptions): Promise<Response> {
  const answer = await exchange(socketPath, payload, opts)
  try {
    return decodeResponse(answer)
  } catch (err) {
    throw new CoordinatorError('ERR_ACK_MALFORMED', `malformed ack from ${socketPath}: ${(err as Error).message}`)
  }
}

/** What a dispatch did: the provider that accepted, and how many were tried. */
export interface DispatchResult {
  provider: string
  tried: number
}

/** A provider that was tried and failed, for the log. */
export interface ProviderFailure {
  provider: string
  error: Error | string
}

/**
 * Tries each provider in order; the first ack without error ends the loop. A provider that
 * refuses the connection, closes it, acks with an error, or does not ack within the
 * timeout counts as failed. When all fail, the error carries the last failure.
 */
export async function dispatch (
  providers: readonly string[],
  payload: Buffer,
  opts: SendOptions,
  onFailure?: (failure: ProviderFailure) => void
): Promise<DispatchResult> {
  let last = 'no providers available for task'
  let tried = 0
  for (const provider of providers) {
    tried++
    try {
      const ack = await sendMessage(provider, payload, opts)
      if (ack.error === '') return { provider, tried }
      last = ack.error
      onFailure?.({ provider, error: ack.error })
    } catch (err) {
      last = (err as Error).message
      onFailure?.({ provider, error: err as Error })
    }
  }
  throw new CoordinatorError('ERR_NO_PROVIDER_ACCEPTED', last)
}
