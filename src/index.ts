/** Package entry: the coordinator library API. */
export { Coordinator, type Addresses, type CoordinatorOptions } from './core/coordinator.js'
export { buildConfig, DEFAULTS, ConfigError, type Config, type LogLevel } from './core/config.js'
export { createLogger, silentLogger, type Logger } from './core/log.js'
export { CoordinatorError, httpStatusOf } from './core/errors.js'
export {
  decodeRequest, decodeResponse, encodeRequest, encodeResponse, ackResponse,
  type Request, type Response
} from './core/message.js'
export { formatUrl, parseUrlString, type MsgUrl, type UrlForm } from './core/go-url.js'
export { Provider } from './provider/provider.js'
export type { ProviderOptions, TaskSettings } from './provider/provider-options.js'
export type { TaskHandler, StreamOutput } from './provider/task-output.js'
export { TaskRequest } from './provider/task-request.js'
export { TaskResponse } from './provider/task-response.js'
export type { CallOptions, CallSpec } from './provider/task-client.js'
export { RawJson, rawJson } from './provider/raw-json.js'
export { openStream, type OpenStreamOptions } from './provider/stream-source.js'
export { ProviderError } from './provider/errors.js'
