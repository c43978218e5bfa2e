/**
 * A provider's settings: the options a program passes, their defaults, and their checks.
 * Names follow the original's provider config (`service_name`, `socket_dir`,
 * `default_priority`, `tasks.<name>.priority` / `.timeout`, `coordinator_url`,
 * `request_timeout`), in camelCase and milliseconds.
 */
import { posix } from 'node:path'
import type { MsgUrl } from '../core/go-url.js'
import { silentLogger, type Logger } from '../core/log.js'
import { checkTaskName } from '../core/providers.js'
import { MAX_FRAME_BYTES } from '../net/frame.js'
import { MAX_SOCKET_PATH_BYTES } from '../net/socket-path.js'
import { ProviderConfigError } from './errors.js'
import { urlOption } from './url-option.js'

/** Per-task settings: where the task sits in the coordinator's order, and how long it may run. */
export interface TaskSettings {
  /** lower is tried first by the coordinator (the socket is `<priority>-<service>.sock`) */
  priority?: number
  /** longest run of the handler, in ms, before the response is an error; 0: no limit */
  timeoutMs?: number
}

/** Options of a Provider. */
export interface ProviderOptions {
  /** the provider's name: its socket files are `<priority>-<serviceName>.sock` */
  serviceName: string
  /** base directory of the task sockets, shared with the coordinator (default `/tmp/cerana`) */
  socketDir?: string
  /** where `call()` sends requests: the coordinator's unix socket or http(s) URL */
  coordinatorUrl?: string | MsgUrl
  /** priority of the tasks without one (default 50) */
  defaultPriority?: number
  /** handler time limit of the tasks without one, in ms (default 60 000; 0: no limit) */
  defaultTimeoutMs?: number
  /** per-task settings, which win over the ones given to `task()` (operators configure here) */
  tasks?: Readonly<Record<string, TaskSettings>>
  /** how long a call waits for its response, in ms (default 60 000) */
  requestTimeoutMs?: number
  /** how long the coordinator has to ack a call, in ms (default 5 000) */
  sendTimeoutMs?: number
  /** how long an output stream waits for its reader, in ms (default 60 000) */
  streamTtlMs?: number
  /** handlers running at once; beyond it requests are refused so the coordinator tries the next provider (default 1024) */
  maxRunning?: number
  /** time of one response delivery attempt, in ms (default 10 000) */
  hookTimeoutMs?: number
  /** response delivery attempts in all (default 3) */
  hookRetries?: number
  /** how long `stop()` waits for running handlers and unread streams, in ms (default 30 000; 0: abort them at once) */
  stopTimeoutMs?: number
  /** largest frame accepted (default 16 MiB) */
  maxFrameBytes?: number
  /** mode of the socket files (default 0o660) */
  socketMode?: number
  log?: Logger
}

/** Checked settings with every default filled in. */
export interface ProviderSettings {
  serviceName: string
  socketDir: string
  coordinatorUrl: MsgUrl | undefined
  defaultPriority: number
  defaultTimeoutMs: number
  tasks: Readonly<Record<string, TaskSettings>>
  requestTimeoutMs: number
  sendTimeoutMs: number
  streamTtlMs: number
  maxRunning: number
  hookTimeoutMs: number
  hookRetries: number
  stopTimeoutMs: number
  maxFrameBytes: number
  socketMode: number | undefined
  log: Logger
}

/** Default socket directory, the original's. */
export const DEFAULT_SOCKET_DIR = '/tmp/cerana'
/** Default task priority, the original's. */
export const DEFAULT_PRIORITY = 50
const DEFAULT_TIMEOUT_MS = 60_000
const SEND_TIMEOUT_MS = 5_000
const MAX_RUNNING = 1024
const HOOK_TIMEOUT_MS = 10_000
const HOOK_RETRIES = 3
const STOP_TIMEOUT_MS = 30_000
// setTimeout() turns any delay above 2^31-1 ms into 1 ms.
const MAX_TIMER_MS = 2 ** 31 - 1

/** Checks options and fills in defaults; throws `ERR_PROVIDER_CONFIG` naming the option. */
export function providerSettings (opts: ProviderOptions): ProviderSettings {
  const serviceName = opts.serviceName
  if (typeof serviceName !== 'string' || serviceName === '' || serviceName.includes('/') ||
      serviceName.includes('\0') || serviceName === '.' || serviceName === '..') {
    throw new ProviderConfigError(`serviceName: ${JSON.stringify(serviceName)} must be a plain file name (no '/', not '.' or '..')`)
  }
  const socketDir = opts.socketDir ?? DEFAULT_SOCKET_DIR
  if (typeof socketDir !== 'string' || !socketDir.startsWith('/') || socketDir.includes('\0')) {
    throw new ProviderConfigError(`socketDir: ${JSON.stringify(socketDir)} must be an absolute path`)
  }
  let coordinatorUrl: MsgUrl | undefined
  if (opts.coordinatorUrl !== undefined && opts.coordinatorUrl !== '') {
    try {
      coordinatorUrl = urlOption(opts.coordinatorUrl, 'coordinatorUrl')
    } catch (err) {
      throw new ProviderConfigError((err as Error).message)
    }
  }
  const tasks = opts.tasks ?? {}
  for (const [name, settings] of Object.entries(tasks)) checkTaskSettings(name, settings)
  const settings: ProviderSettings = {
    serviceName,
    socketDir: posix.normalize(socketDir).replace(/(.)\/$/, '$1'),
    coordinatorUrl,
    defaultPriority: priority('defaultPriority', opts.defaultPriority, DEFAULT_PRIORITY),
    defaultTimeoutMs: duration('defaultTimeoutMs', opts.defaultTimeoutMs, DEFAULT_TIMEOUT_MS, true),
    tasks,
    requestTimeoutMs: duration('requestTimeoutMs', opts.requestTimeoutMs, DEFAULT_TIMEOUT_MS, false),
    sendTimeoutMs: duration('sendTimeoutMs', opts.sendTimeoutMs, SEND_TIMEOUT_MS, false),
    streamTtlMs: duration('streamTtlMs', opts.streamTtlMs, DEFAULT_TIMEOUT_MS, false),
    maxRunning: count('maxRunning', opts.maxRunning, MAX_RUNNING),
    hookTimeoutMs: duration('hookTimeoutMs', opts.hookTimeoutMs, HOOK_TIMEOUT_MS, false),
    hookRetries: count('hookRetries', opts.hookRetries, HOOK_RETRIES),
    stopTimeoutMs: duration('stopTimeoutMs', opts.stopTimeoutMs, STOP_TIMEOUT_MS, true),
    maxFrameBytes: count('maxFrameBytes', opts.maxFrameBytes, MAX_FRAME_BYTES),
    socketMode: opts.socketMode,
    log: opts.log ?? silentLogger
  }
  if (settings.socketMode !== undefined && !(Number.isInteger(settings.socketMode) && settings.socketMode >= 0 && settings.socketMode <= 0o777)) {
    throw new ProviderConfigError(`socketMode: ${String(settings.socketMode)} is not a file mode (0 to 0o777)`)
  }
  checkPathLength(responseSocketPath(settings))
  return settings
}

/** `S/response/<service>.sock`: where the provider's calls get their responses. */
export function responseSocketPath (s: Pick<ProviderSettings, 'socketDir' | 'serviceName'>): string {
  return posix.join(s.socketDir, 'response', `${s.serviceName}.sock`)
}

/** `S/<task>/<priority>-<service>.sock`: where the coordinator finds the task. */
export function taskSocketPath (s: Pick<ProviderSettings, 'socketDir' | 'serviceName'>, task: string, priorityValue: number): string {
  return posix.join(s.socketDir, task, `${priorityValue}-${s.serviceName}.sock`)
}

/** `S/streams/<task>/<service>`: the directory of a task's output stream sockets (the original's). */
export function streamDir (s: Pick<ProviderSettings, 'socketDir' | 'serviceName'>, task: string): string {
  return posix.join(s.socketDir, 'streams', task, s.serviceName)
}

/** Resolves a task's priority and timeout: operator settings, then the code's, then defaults. */
export function resolveTask (s: ProviderSettings, task: string, fromCode: TaskSettings): { priority: number, timeoutMs: number } {
  try {
    checkTaskName(task)
  } catch (err) {
    throw new ProviderConfigError((err as Error).message)
  }
  checkTaskSettings(task, fromCode)
  const configured = s.tasks[task] ?? {}
  const resolved = {
    priority: configured.priority ?? fromCode.priority ?? s.defaultPriority,
    timeoutMs: configured.timeoutMs ?? fromCode.timeoutMs ?? s.defaultTimeoutMs
  }
  checkPathLength(taskSocketPath(s, task, resolved.priority))
  return resolved
}

function checkTaskSettings (task: string, settings: TaskSettings): void {
  if (settings === null || typeof settings !== 'object') throw new ProviderConfigError(`tasks.${task}: must be an object`)
  priority(`tasks.${task}.priority`, settings.priority, 0)
  duration(`tasks.${task}.timeoutMs`, settings.timeoutMs, 0, true)
}

function checkPathLength (path: string): void {
  const bytes = Buffer.byteLength(path)
  if (bytes > MAX_SOCKET_PATH_BYTES) {
    throw new ProviderConfigError(`socket path ${path} is ${bytes} bytes, above the limit of ${MAX_SOCKET_PATH_BYTES}; shorten socketDir, serviceName or the task name`)
  }
}

function priority (name: string, v: number | undefined, def: number): number {
  if (v === undefined) return def
  if (!Number.isSafeInteger(v) || v < 0) throw new ProviderConfigError(`${name}: ${String(v)} is not a priority (an integer from 0)`)
  return v
}

function duration (name: string, v: number | undefined, def: number, zeroAllowed: boolean): number {
  if (v === undefined) return def
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || (v === 0 && !zeroAllowed) || v > MAX_TIMER_MS) {
    throw new ProviderConfigError(`${name}: ${String(v)} is not a duration in ms (${zeroAllowed ? '0' : '1'} to ${MAX_TIMER_MS})`)
  }
  return Math.ceil(v)
}

function count (name: string, v: number | undefined, def: number): number {
  if (v === undefined) return def
  if (!Number.isSafeInteger(v) || v < 1) throw new ProviderConfigError(`${name}: ${String(v)} is not a count (an integer from 1)`)
  return v
}
