/**
 * The command line: flags (mri), the JSON config file, and their merge into a Config.
 * Precedence: a flag on the command line, then the file, then the defaults.
 */
import { readFileSync } from 'node:fs'
// mri's ES module build: importing its CommonJS main from ESM costs every start a few ms
// (node's CommonJS loader and export lexer); mri is pinned and the code is the same.
import mri from 'mri/lib/index.mjs'
import { buildConfig, CONFIG_KEYS, ConfigError, DEFAULTS, didYouMean, type Config, type ConfigKey } from '../core/config.js'

/** What the command line asks for: run with a config, or print help or the version. */
export type CliRequest =
  | { kind: 'run', config: Config }
  | { kind: 'help', text: string }
  | { kind: 'version', text: string }

/** Options of `loadConfig`; `readFile` replaces reading the config file from disk. */
export interface LoadConfigOptions {
  readFile?: (p: string) => string
}

interface FlagHelp {
  short?: string
  value: string
  help: string
  def: string
}

const sec = (ms: number): string => `${ms / 1000}`

const FLAGS: Readonly<Record<ConfigKey | 'config_file', FlagHelp>> = {
  config_file: { short: 'c', value: 'path', help: 'JSON file of settings (keys as the long flags)', def: 'none' },
  service_name: { short: 'n', value: 'name', help: 'name of this coordinator (its socket file names)', def: 'none: required' },
  socket_dir: { short: 's', value: 'dir', help: 'base directory of the task and coordinator sockets', def: DEFAULTS.socketDir },
  external_port: { short: 'p', value: 'port', help: 'HTTP port for external requests', def: String(DEFAULTS.externalPort) },
  request_timeout: { short: 't', value: 'seconds', help: 'time a tracked request waits for its response', def: `0 (= ${sec(DEFAULTS.requestTimeoutMs)})` },
  log_level: { short: 'l', value: 'level', help: 'debug, info, warn|warning, error, fatal, panic', def: 'warning' },
  bind_address: { value: 'address', help: 'address the HTTP server listens on', def: "'' (all interfaces)" },
  dispatch_timeout: { value: 'seconds', help: 'time a provider has to ack a request', def: sec(DEFAULTS.dispatchTimeoutMs) },
  hook_timeout: { value: 'seconds', help: 'time of one response hook delivery attempt', def: sec(DEFAULTS.hookTimeoutMs) },
  hook_retries: { value: 'count', help: 'response hook delivery attempts in all', def: String(DEFAULTS.hookRetries) },
  peer_url_form: { value: 'go|string', help: 'URL form written to providers and peers', def: DEFAULTS.peerUrlForm },
  drain_timeout: { value: 'seconds', help: 'cap on the wait for tracked requests at stop (0: no cap)', def: sec(DEFAULTS.drainTimeoutMs) },
  stream_base_url: { value: 'url', help: 'externally reachable base of the /stream URLs', def: "'' (http://localhost:<port>)" },
  max_body_bytes: { value: 'bytes', help: 'largest HTTP request body', def: String(DEFAULTS.maxBodyBytes) },
  max_frame_bytes: { value: 'bytes', help: 'largest unix socket frame', def: String(DEFAULTS.maxFrameBytes) },
  headers_timeout: { value: 'seconds', help: 'time to receive the HTTP request headers', def: sec(DEFAULTS.headersTimeoutMs) },
  body_timeout: { value: 'seconds', help: 'time to receive an HTTP request body after its headers', def: sec(DEFAULTS.bodyTimeoutMs) },
  keep_alive_timeout: { value: 'seconds', help: 'idle time of a kept-alive HTTP connection', def: sec(DEFAULTS.keepAliveTimeoutMs) },
  read_timeout: { value: 'seconds', help: 'time a unix socket peer has to send its frame', def: sec(DEFAULTS.readTimeoutMs) },
  max_tracked: { value: 'count', help: 'most requests awaiting a response at once', def: String(DEFAULTS.maxTracked) },
  max_pending_responses: { value: 'count', help: 'responses awaited on the response socket before new requests wait', def: String(DEFAULTS.maxPendingResponses) },
  max_stream_sockets: { value: 'count', help: 'most one-shot stream sockets at once', def: String(DEFAULTS.maxStreamSockets) },
  stream_read_bytes: { value: 'bytes', help: 'read buffer of each /stream reader of a unix source', def: String(DEFAULTS.streamReadBytes) },
  socket_mode: { value: 'octal', help: 'file mode of the sockets the coordinator creates', def: DEFAULTS.socketMode.toString(8) },
  provider_cache: { value: 'seconds', help: 'longest a cached provider listing is used', def: sec(DEFAULTS.providerCacheMs) },
  auth_token_file: { value: 'path', help: 'bearer token required on the HTTP port (not /healthz)', def: 'none (no token)' },
  provider_cooldown: { value: 'seconds', help: 'a provider that just failed is skipped this long', def: sec(DEFAULTS.providerCooldownMs) }
}

const VALUE_FLAGS = ['config_file', ...CONFIG_KEYS] as const

function usageLine (key: keyof typeof FLAGS): string {
  const f = FLAGS[key]
  const left = `  ${f.short !== undefined ? `-${f.short}, ` : '    '}--${key} <${f.value}>`
  return `${left.padEnd(42)}${f.help}; default ${f.def}`
}

/** The --help text: every flag, long and short, its file key and default. */
export const USAGE: string = [
  'Usage: coordinator -n <service_name> [options]',
  '',
  'Routes task requests between HTTP clients, unix socket clients and providers.',
  '',
  'Options (each long flag is also a key of the config file, except config_file):',
  ...VALUE_FLAGS.map(usageLine),
  `${'  -h, --help'.padEnd(42)}print this text and exit`,
  `${'      --version'.padEnd(42)}print the version and exit`,
  '',
  'A flag on the command line wins over the config file, which wins over the defaults.',
  'Durations are in seconds and may have fractions (0.5).',
  ''
].join('\n')

/** Parses argv (without node and script), reads the config file if given, validates. Throws ConfigError. */
export function loadConfig (argv: string[], opts: LoadConfigOptions = {}): CliRequest {
  // STYLE 5 says to give every flag a default so that `unknown` knows it; a default would
  // hide whether a flag was given, and a file value must win over a default. mri also treats
  // every key of `alias` as known, so each long flag is declared there with no alias: the
  // short ones are rewritten beforehand (see canonical()).
  const alias: Record<string, string[]> = { help: [], version: [] }
  for (const key of VALUE_FLAGS) alias[key] = []
  const args = mri(canonical(argv), {
    alias,
    boolean: ['help', 'version'],
    // Every value flag is a string: mri would turn '0123' into 123 and '1e3' into 1000.
    string: [...VALUE_FLAGS],
    unknown (flag: string): never {
      throw unknownFlag(flag)
    }
  }) as Record<string, unknown> & { _: string[] }

  if (truthy(args.help)) return { kind: 'help', text: USAGE }
  if (truthy(args.version)) return { kind: 'version', text: `coordinator ${readVersion()}\n` }
  if (args._.length > 0) throw strayArgument(String(args._[0]))

  const flags: Record<string, string> = {}
  for (const key of VALUE_FLAGS) {
    const value = lastOf(args[key])
    if (value === undefined) continue
    // `--no-<flag>` makes mri set false.
    if (typeof value !== 'string') throw new ConfigError(`${key}: --${key} needs a value`)
    flags[key] = value
  }

  let raw: Record<string, unknown> = {}
  const file = flags.config_file
  if (file !== undefined) {
    if (file === '') throw new ConfigError('config_file: --config_file needs a path')
    raw = readConfigFile(file, opts.readFile ?? readUtf8)
  }
  for (const [key, value] of Object.entries(flags)) {
    if (key !== 'config_file') raw[key] = value
  }
  return { kind: 'run', config: buildConfig(raw) }
}

const SHORT_TO_LONG: ReadonlyMap<string, string> = new Map(
  VALUE_FLAGS.flatMap(key => FLAGS[key].short !== undefined ? [[FLAGS[key].short, key] as [string, string]] : [])
)

/**
 * Rewrites short flags into long ones (`-p 80`, `-p80`, `-p=80` → `--external_port …`) and
 * `--flag=` into `--flag ''`. mri cannot be given the short ones as aliases: when both
 * `-n a` and `--service_name b` are given it copies the alias over the long value
 * whatever their order, so "the last one wins" would not hold. And for `--flag=` it
 * takes the next argument as the value.
 */
function canonical (argv: readonly string[]): string[] {
  const out: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? ''
    if (arg === '--') {
      out.push(...argv.slice(i))
      break
    }
    if (arg.startsWith('--')) {
      if (arg.endsWith('=') && arg.indexOf('=') === arg.length - 1) out.push(arg.slice(0, -1), '')
      else out.push(arg)
      continue
    }
    // mri drops a lone '-' without a word; it is a stray argument here.
    if (arg === '-') throw strayArgument(arg)
    if (!arg.startsWith('-')) {
      out.push(arg)
      continue
    }
    if (arg === '-h') {
      out.push('--help')
      continue
    }
    const long = SHORT_TO_LONG.get(arg.charAt(1))
    if (long === undefined) throw unknownFlag(arg)
    const rest = arg.slice(2)
    const value = rest.startsWith('=') ? rest.slice(1) : rest
    if (value !== '') out.push(`--${long}=${value}`)
    else if (rest === '=') out.push(`--${long}`, '')
    else out.push(`--${long}`)
  }
  return out
}

function strayArgument (arg: string): ConfigError {
  return new ConfigError(`unexpected argument '${arg}' (flags take the form --name value)`)
}

function unknownFlag (flag: string): ConfigError {
  const name = flag.replace(/^-+/, '')
  const hint = flag.startsWith('--') ? didYouMean(name, [...VALUE_FLAGS, 'help', 'version'], '--') : ''
  return new ConfigError(`unknown flag ${flag}${hint}`)
}

function truthy (v: unknown): boolean {
  return Array.isArray(v) ? v.some(x => x === true) : v === true
}

// mri gives an array for a flag given twice; the last one wins, as with Go's pflag.
function lastOf (v: unknown): unknown {
  return Array.isArray(v) ? v[v.length - 1] : v
}

function readUtf8 (p: string): string {
  return readFileSync(p, 'utf8')
}

function readConfigFile (file: string, readFile: (p: string) => string): Record<string, unknown> {
  let text: string
  try {
    text = readFile(file)
  } catch (err) {
    throw new ConfigError(`config_file ${file}: cannot read it (${messageOf(err)})`)
  }
  let parsed: unknown
  try {
    // Editors on some systems start a UTF-8 file with a BOM, which JSON.parse refuses.
    parsed = JSON.parse(text.replace(/^\uFEFF/, ''))
  } catch (err) {
    throw new ConfigError(`config_file ${file}: malformed JSON (${messageOf(err)})`)
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigError(`config_file ${file}: must hold a JSON object of settings`)
  }
  const known: readonly string[] = CONFIG_KEYS
  for (const key of Object.keys(parsed)) {
    if (!known.includes(key)) {
      throw new ConfigError(`unknown key '${key}' in config file ${file}${didYouMean(key, CONFIG_KEYS, '')}`)
    }
  }
  return { ...parsed }
}

function readVersion (): string {
  // ../../package.json is the package root from both src/cli/ and dist/cli/.
  const url = new URL('../../package.json', import.meta.url)
  try {
    const pkg: unknown = JSON.parse(readFileSync(url, 'utf8'))
    const version = (pkg as { version?: unknown } | null)?.version
    if (typeof version === 'string') return version
  /* c8 ignore start */
  } catch {
    // Only a broken install lacks a readable package.json: --version still answers.
  }
  return 'unknown'
  /* c8 ignore stop */
}

function messageOf (err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
