/**
 * Coded errors of the provider kit. Code and tests branch on `code`, never on the message.
 */
import type { TaskResponse } from './task-response.js'

/** Base of every error the provider kit raises on purpose. */
export class ProviderError extends Error {
  readonly code: string
  constructor (code: string, message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'ProviderError'
    this.code = code
  }
}

/** Invalid provider options (a bad name, priority, timeout or URL). */
export class ProviderConfigError extends ProviderError {
  constructor (message: string) {
    super('ERR_PROVIDER_CONFIG', message)
  }
}

/** A call that the provider's state does not allow (registering after start, calling after stop). */
export class ProviderStateError extends ProviderError {
  constructor (message: string) {
    super('ERR_PROVIDER_STATE', message)
  }
}

/** The provider stopped while a call was waiting for its response. */
export class ProviderStoppedError extends ProviderError {
  constructor () {
    super('ERR_PROVIDER_STOPPED', 'provider stopped')
  }
}

/** A handler ran longer than its task's timeout. */
export class TaskTimeoutError extends ProviderError {
  constructor (timeoutMs: number) {
    super('ERR_TASK_TIMEOUT', `task timed out after ${timeoutMs} ms`)
  }
}

/** A value that must become JSON (a result, call args) cannot, or a raw JSON text is invalid. */
export class JsonValueError extends ProviderError {
  constructor (message: string, cause?: unknown) {
    super('ERR_JSON_VALUE', message, cause === undefined ? undefined : { cause })
  }
}

/** The request carries no stream to open. */
export class NoStreamError extends ProviderError {
  constructor () {
    super('ERR_STREAM_NONE', 'the request has no stream')
  }
}

/** A stream URL could not be opened (connect failure, bad scheme, HTTP status other than 200). */
export class StreamOpenError extends ProviderError {
  constructor (message: string, cause?: unknown) {
    super('ERR_STREAM_OPEN', message, cause === undefined ? undefined : { cause })
  }
}

/** No stream bytes arrived for the idle timeout. */
export class StreamIdleError extends ProviderError {
  constructor (timeoutMs: number) {
    super('ERR_STREAM_IDLE', `no stream data for ${timeoutMs} ms`)
  }
}

/** A call could not be handed to the coordinator (connect, send or ack failure). */
export class CallSendError extends ProviderError {
  constructor (message: string, cause?: unknown) {
    super('ERR_CALL_SEND', message, cause === undefined ? undefined : { cause })
  }
}

/** The coordinator refused a call in its ack (no provider, bad request, overloaded...). */
export class CallRefusedError extends ProviderError {
  constructor (message: string) {
    super('ERR_CALL_REFUSED', message)
  }
}

/** The response to a call did not come in time. The message is the original's. */
export class CallTimeoutError extends ProviderError {
  constructor () {
    super('ERR_CALL_TIMEOUT', 'response timeout')
  }
}

/** A call was aborted through its signal. */
export class CallAbortedError extends ProviderError {
  constructor (cause?: unknown) {
    super('ERR_CALL_ABORTED', 'call aborted', cause === undefined ? undefined : { cause })
  }
}

/** The called task answered with an error; `response` holds the whole response. */
export class CallFailedError extends ProviderError {
  readonly response: TaskResponse
  constructor (response: TaskResponse) {
    super('ERR_CALL_FAILED', response.error)
    this.response = response
  }
}

/** A call that cannot be made as asked (no task name, no coordinator URL, a bad URL). */
export class CallInvalidError extends ProviderError {
  constructor (message: string, cause?: unknown) {
    super('ERR_CALL_INVALID', message, cause === undefined ? undefined : { cause })
  }
}
