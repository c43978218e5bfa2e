/**
 * The coordinator's settings: defaults, and validation of raw settings (the snake_case keys
 * of the config file and of the long flags) into a typed `Config`. Pure: no fs, no argv.
 */
import { posix } from 'node:path'
import { CoordinatorError } from './errors.js'
import type { UrlForm } from './go-url.js'

/** A log level; `warning` is accepted on input and stored as `warn`. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'panic'

/** Validated settings of one coordinator; durations in milliseconds. */
export interface Config {
  serviceName: string
  socketDir: string
  externalPort: number
  requestTimeoutMs: number
  logLevel: LogLevel
  bindAddress: string
  dispatchTimeoutMs: number
  hookTimeoutMs: number
  hookRetries: number
  peerUrlForm: UrlForm
  drainTimeoutMs: number
  /** '' = `http://localhost:<externalPort>`; otherwise an absolute http(s) URL without trailing slash */
  streamBaseUrl: string
  maxBodyBytes: number
  maxFrameBytes: number
  headersTimeoutMs: number
  bodyTimeoutMs: number
  keepAliveTimeoutMs: number
  readTimeoutMs: number
  maxTracked: number
  /** tracked requests whose response is awaited on the response socket before others wait */
  maxPendingResponses: number
  maxStreamSockets: number
  /** read buffer of each unix stream source a `/stream` reader is served from */
  streamReadBytes: number
  socketMode: number
  providerCacheMs: number
  /** '' = no token (every endpoint open); else the file holding the bearer token */
  authTokenFile: string
  /** how long a provider that just failed is skipped while others are available; 0 = never */
  providerCooldownMs: number
}

/** Every key a config file (and a long flag) may name, in the order of the usage text. */
export const CONFIG_KEYS = [
  'service_name',
  'socket_dir',
  'external_port',
  'request_timeout',
  'log_level',
  'bind_address',
  'dispatch_timeout',
  'hook_timeout',
  'hook_retries',
  'peer_url_form',
  'drain_timeout',
  'stream_base_url',
  'max_body_bytes',
  'max_frame_bytes',
  'headers_timeout',
  'body_timeout',
  'keep_alive_timeout',
  'read_timeout',
  'max_tracked',
  'max_pending_responses',
  'max_stream_sockets',
  'stream_read_bytes',
  'socket_mode',
  'provider_cache',
  'auth_token_file',
  'provider_cooldown'
] as const

/** A key of the config file. */
export type ConfigKey = typeof CONFIG_KEYS[number]

/** The keys whose values are durations in seconds (fractions allowed). */
export const SECONDS_KEYS: ReadonlySet<ConfigKey> = new Set<ConfigKey>([
  'request_timeout', 'dispatch_timeout', 'hook_timeout', 'drain_timeout', 'headers_timeout',
  'body_timeout', 'keep_alive_timeout', 'read_timeout', 'provider_cache', 'provider_cooldown'
])

/** request_timeout 0 stands for this (the original's default). */
export const DEFAULT_REQUEST_TIMEOUT_MS = 60_000

/** The value of every setting that has one. */
export const DEFAULTS: Readonly<Omit<Config, 'serviceName'>> = Object.freeze({
  socketDir: '/tmp/cerana',
  externalPort: 8080,
  requestTimeoutMs: DEFAULT_REQUEST_TIMEOUT_MS,
  logLevel: 'warn',
  bindAddress: '',
  dispatchTimeoutMs: 5_000,
  hookTimeoutMs: 10_000,
  hookRetries: 3,
  peerUrlForm: 'go',
  drainTimeoutMs: 0,
  streamBaseUrl: '',
  maxBodyBytes: 1024 * 1024,
  maxFrameBytes: 16 * 1024 * 1024,
  headersTimeoutMs: 10_000,
  bodyTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  readTimeoutMs: 10_000,
  maxTracked: 100_000,
  maxPendingResponses: 1024,
  maxStreamSockets: 1024,
  streamReadBytes: 256 * 1024,
  socketMode: 0o660,
  providerCacheMs: 1_000,
  authTokenFile: '',
  providerCooldownMs: 2_000
})

/** Invalid configuration; the message starts with the key at fault. */
export class ConfigError extends CoordinatorError {
  constructor (message: string) {
    super('ERR_CONFIG_INVALID', message)
    this.name = 'ConfigError'
  }
}

// setTimeout() turns any delay above 2^31-1 ms into 1 ms (TimeoutOverflowWarning), so a
// "very long" timeout would fire at once: refuse it here instead.
const MAX_TIMER_MS = 2 ** 31 - 1
// A /stream read buffer: below a page the syscalls per byte soar; above 16 MiB one stalled
// reader would hold more than a small host should give it.
const MIN_STREAM_READ_BYTES = 4096
const MAX_STREAM_READ_BYTES = 16 * 1024 * 1024
// The frame header is a u32.
const MAX_FRAME_LIMIT = 2 ** 32 - 1
// sun_path is 108 bytes on Linux and 104 on macOS and the BSDs, NUL included.
const MAX_SOCKET_PATH_BYTES = process.platform === 'linux' ? 107 : 103

const LEVELS: Readonly<Record<string, LogLevel>> = {
  debug: 'debug',
  info: 'info',
  warn: 'warn',
  warning: 'warn',
  error: 'error',
  fatal: 'fatal',
  panic: 'panic'
}
const LEVEL_NAMES = 'debug, info, warn, warning, error, fatal, panic'

const KNOWN_KEYS: ReadonlySet<string> = new Set(CONFIG_KEYS)

/** Validates raw settings (file keys, snake_case, as parsed from JSON or flags) into a Config. */
export function buildConfig (raw: Record<string, unknown>): Config {
  for (const key of Object.keys(raw)) {
    if (!KNOWN_KEYS.has(key)) {
      throw new ConfigError(`unknown key '${key}' in config file${didYouMean(key, CONFIG_KEYS, '')}`)
    }
  }
  const get = (key: ConfigKey): unknown => Object.hasOwn(raw, key) ? raw[key] : undefined

  const serviceName = parseServiceName(get('service_name'))
  const socketDir = parseSocketDir(get('socket_dir'))
  checkSocketPaths(socketDir, serviceName)
  const externalPort = parseInteger('external_port', get('external_port'), DEFAULTS.externalPort, 0, 65535)
  if (externalPort === 0) throw new ConfigError('external_port: 0 is not a port (1-65535)')
  const requestTimeoutMs = parseSeconds('request_timeout', get('request_timeout'), DEFAULTS.requestTimeoutMs, true)
  const headersTimeoutMs = parseSeconds('headers_timeout', get('headers_timeout'), DEFAULTS.headersTimeoutMs, false)
  const bodyTimeoutMs = parseSeconds('body_timeout', get('body_timeout'), DEFAULTS.bodyTimeoutMs, false)
  // node:http refuses a headers timeout above the whole-request timeout (ERR_OUT_OF_RANGE).
  if (headersTimeoutMs > bodyTimeoutMs) {
    throw new ConfigError(`headers_timeout: ${headersTimeoutMs / 1000} s is longer than body_timeout (${bodyTimeoutMs / 1000} s)`)
  }

  return {
    serviceName,
    socketDir,
    externalPort,
    requestTimeoutMs: requestTimeoutMs === 0 ? DEFAULT_REQUEST_TIMEOUT_MS : requestTimeoutMs,
    logLevel: parseLogLevel(get('log_level')),
    bindAddress: parseBindAddress(get('bind_address')),
    dispatchTimeoutMs: parseSeconds('dispatch_timeout', get('dispatch_timeout'), DEFAULTS.dispatchTimeoutMs, false),
    hookTimeoutMs: parseSeconds('hook_timeout', get('hook_timeout'), DEFAULTS.hookTimeoutMs, false),
    hookRetries: parseInteger('hook_retries', get('hook_retries'), DEFAULTS.hookRetries, 1, 1000),
    peerUrlForm: parsePeerUrlForm(get('peer_url_form')),
    drainTimeoutMs: parseSeconds('drain_timeout', get('drain_timeout'), DEFAULTS.drainTimeoutMs, true),
    streamBaseUrl: parseStreamBaseUrl(get('stream_base_url')),
    maxBodyBytes: parseInteger('max_body_bytes', get('max_body_bytes'), DEFAULTS.maxBodyBytes, 1, Number.MAX_SAFE_INTEGER),
    maxFrameBytes: parseInteger('max_frame_bytes', get('max_frame_bytes'), DEFAULTS.maxFrameBytes, 1, MAX_FRAME_LIMIT),
    headersTimeoutMs,
    bodyTimeoutMs,
    keepAliveTimeoutMs: parseSeconds('keep_alive_timeout', get('keep_alive_timeout'), DEFAULTS.keepAliveTimeoutMs, false),
    readTimeoutMs: parseSeconds('read_timeout', get('read_timeout'), DEFAULTS.readTimeoutMs, false),
    maxTracked: parseInteger('max_tracked', get('max_tracked'), DEFAULTS.maxTracked, 1, Number.MAX_SAFE_INTEGER),
    maxPendingResponses: parseInteger('max_pending_responses', get('max_pending_responses'), DEFAULTS.maxPendingResponses, 1, Number.MAX_SAFE_INTEGER),
    maxStreamSockets: parseInteger('max_stream_sockets', get('max_stream_sockets'), DEFAULTS.maxStreamSockets, 1, Number.MAX_SAFE_INTEGER),
    streamReadBytes: parseInteger('stream_read_bytes', get('stream_read_bytes'), DEFAULTS.streamReadBytes, MIN_STREAM_READ_BYTES, MAX_STREAM_READ_BYTES),
    socketMode: parseSocketMode(get('socket_mode')),
    providerCacheMs: parseSeconds('provider_cache', get('provider_cache'), DEFAULTS.providerCacheMs, true),
    authTokenFile: parseAuthTokenFile(get('auth_token_file')),
    providerCooldownMs: parseSeconds('provider_cooldown', get('provider_cooldown'), DEFAULTS.providerCooldownMs, true)
  }
}

/** ` (did you mean 'x'?)` when `word` is a likely typo of one of `known`, else ''. */
export function didYouMean (word: string, known: readonly string[], prefix: string): string {
  const squash = (s: string): string => s.toLowerCase().replace(/[-_]/g, '')
  const w = squash(word)
  let best = ''
  let bestDistance = 3
  for (const k of known) {
    const d = w === squash(k) ? 0 : editDistance(w, squash(k))
    if (d < bestDistance) { best = k; bestDistance = d }
  }
  return best === '' ? '' : ` (did you mean '${prefix}${best}'?)`
}

function editDistance (a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2) return 3
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    const row = [i]
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      row[j] = Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost)
    }
    prev = row
  }
  return prev[b.length] ?? 3
}

function describe (v: unknown): string {
  if (typeof v === 'string') return `'${v}'`
  if (v === null) return 'null'
  if (typeof v === 'object') return Array.isArray(v) ? 'an array' : 'an object'
  return String(v)
}

function parseString (key: ConfigKey, v: unknown, def: string): string {
  if (v === undefined) return def
  if (typeof v !== 'string') throw new ConfigError(`${key}: must be a string, not ${describe(v)}`)
  if (v.includes('\0')) throw new ConfigError(`${key}: must not contain a NUL byte`)
  return v
}

function parseServiceName (v: unknown): string {
  const name = parseString('service_name', v, '')
  if (name === '') throw new ConfigError('service_name is required')
  // It becomes a file name: <socket_dir>/coordinator/<name>.sock
  if (name.includes('/') || name === '.' || name === '..') {
    throw new ConfigError(`service_name: ${describe(name)} must be a plain file name (no '/', not '.' or '..')`)
  }
  return name
}

function parseSocketDir (v: unknown): string {
  const dir = parseString('socket_dir', v, DEFAULTS.socketDir)
  if (dir === '') throw new ConfigError('socket_dir: must not be empty')
  // Providers, clients and the coordinator meet in this directory and write it into unix://
  // URLs, whose path must be absolute; a relative one would mean a different place per cwd.
  if (!dir.startsWith('/')) throw new ConfigError(`socket_dir: ${describe(dir)} must be an absolute path`)
  const normal = posix.normalize(dir)
  return normal.length > 1 && normal.endsWith('/') ? normal.slice(0, -1) : normal
}

function checkSocketPaths (socketDir: string, serviceName: string): void {
  const longest = posix.join(socketDir, 'coordinator', `${serviceName}.sock`)
  const bytes = Buffer.byteLength(longest)
  if (bytes > MAX_SOCKET_PATH_BYTES) {
    throw new ConfigError(`socket_dir: the socket path ${longest} is ${bytes} bytes, above the limit of ${MAX_SOCKET_PATH_BYTES}; shorten socket_dir or service_name`)
  }
}

function parseNumber (key: ConfigKey, v: unknown, integer: boolean): number {
  let n: number
  if (typeof v === 'number') {
    n = v
  } else if (typeof v === 'string') {
    // Number() alone would take ' 8080', '0x1f', '1e3' and '' (= 0): accept plain decimals only.
    if (/^-/.test(v)) throw new ConfigError(`${key}: ${v} must not be negative`)
    if (!(integer ? /^\d+$/ : /^(?:\d+(?:\.\d*)?|\.\d+)$/).test(v)) {
      throw new ConfigError(`${key}: ${describe(v)} is not ${integer ? 'an integer' : 'a number'}`)
    }
    n = Number(v)
  } else {
    throw new ConfigError(`${key}: must be a number, not ${describe(v)}`)
  }
  if (!Number.isFinite(n)) throw new ConfigError(`${key}: ${n} is not a finite number`)
  if (n < 0) throw new ConfigError(`${key}: ${n} must not be negative`)
  if (integer && !Number.isInteger(n)) throw new ConfigError(`${key}: ${n} is not an integer`)
  return n
}

function parseInteger (key: ConfigKey, v: unknown, def: number, min: number, max: number): number {
  if (v === undefined) return def
  const n = parseNumber(key, v, true)
  if (n < min || n > max) throw new ConfigError(`${key}: ${n} is out of range (${min}-${max})`)
  return n
}

/** Seconds (fractions allowed) to whole milliseconds; a positive value never rounds to 0. */
function parseSeconds (key: ConfigKey, v: unknown, defMs: number, zeroAllowed: boolean): number {
  if (v === undefined) return defMs
  const s = parseNumber(key, v, false)
  if (s === 0) {
    if (zeroAllowed) return 0
    throw new ConfigError(`${key}: 0 is not a duration (must be above 0 seconds)`)
  }
  const ms = Math.max(1, Math.round(s * 1000))
  if (ms > MAX_TIMER_MS) {
    throw new ConfigError(`${key}: ${s} s is too long (at most ${Math.floor(MAX_TIMER_MS / 1000)} s)`)
  }
  return ms
}

function parseLogLevel (v: unknown): LogLevel {
  if (v === undefined) return DEFAULTS.logLevel
  // logrus.ParseLevel is case-insensitive
  const level = typeof v === 'string' ? LEVELS[v.toLowerCase()] : undefined
  if (level === undefined) throw new ConfigError(`log_level: ${describe(v)} is not a level (${LEVEL_NAMES})`)
  return level
}

function parseBindAddress (v: unknown): string {
  const addr = parseString('bind_address', v, DEFAULTS.bindAddress)
  if (/\s/.test(addr)) throw new ConfigError(`bind_address: ${describe(addr)} is not an address`)
  return addr
}

function parsePeerUrlForm (v: unknown): UrlForm {
  if (v === undefined) return DEFAULTS.peerUrlForm
  if (v === 'go' || v === 'string') return v
  throw new ConfigError(`peer_url_form: ${describe(v)} is not a form (go, string)`)
}

function parseStreamBaseUrl (v: unknown): string {
  const text = parseString('stream_base_url', v, DEFAULTS.streamBaseUrl)
  if (text === '') return ''
  let url: URL
  try {
    url = new URL(text)
  } catch {
    throw new ConfigError(`stream_base_url: ${describe(text)} is not an absolute URL`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError(`stream_base_url: ${describe(text)} must be an http or https URL`)
  }
  if (url.search !== '' || text.includes('?')) throw new ConfigError(`stream_base_url: ${describe(text)} must not have a query`)
  if (url.hash !== '' || text.includes('#')) throw new ConfigError(`stream_base_url: ${describe(text)} must not have a fragment`)
  if (url.username !== '' || url.password !== '') {
    throw new ConfigError(`stream_base_url: ${describe(text)} must not hold credentials`)
  }
  // Stored without the trailing slash so that users append '/stream'.
  return url.href.replace(/\/+$/, '')
}

function parseAuthTokenFile (v: unknown): string {
  if (v === undefined) return DEFAULTS.authTokenFile
  const file = parseString('auth_token_file', v, '')
  // Given but empty is a mistake (an unset variable in a unit file, say), not "no token":
  // running open by accident is the failure to avoid.
  if (file === '') throw new ConfigError('auth_token_file: must not be empty (leave it out to run without a token)')
  return file
}

function parseSocketMode (v: unknown): number {
  if (v === undefined) return DEFAULTS.socketMode
  let mode: number
  if (typeof v === 'string') {
    if (!/^(?:0o)?[0-7]{1,4}$/i.test(v)) throw new ConfigError(`socket_mode: ${describe(v)} is not an octal mode such as '660'`)
    mode = parseInt(v.replace(/^0o/i, ''), 8)
  } else if (typeof v === 'number') {
    if (!Number.isInteger(v) || v < 0) throw new ConfigError(`socket_mode: ${v} is not a mode`)
    mode = v
  } else {
    throw new ConfigError(`socket_mode: must be an octal string such as '660', not ${describe(v)}`)
  }
  if (mode > 0o777) {
    // A JSON number 660 is decimal (0o1224): the usual mistake, so say how to write it.
    throw new ConfigError(`socket_mode: ${describe(v)} is above 0o777 (write the octal mode as a string, e.g. "660")`)
  }
  return mode
}
