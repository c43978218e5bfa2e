/**
 * The command line of `coordinator-cli`: the original's flags (`-c -t -a -s -r -u`), plus
 * `-j`, `--timeout` and `--help`, parsed with mri into checked options.
 */
// mri's ES module build: importing its CommonJS main from ESM costs every start a few ms
// (node's CommonJS loader and export lexer); mri is pinned and the code is the same.
import mri from 'mri/lib/index.mjs'
import { didYouMean } from '../core/config.js'
import type { MsgUrl } from '../core/go-url.js'
import { urlOption } from '../provider/url-option.js'

/** What the command line asks for. */
export interface CliOptions {
  coordinatorUrl: MsgUrl
  task: string
  /** `-a key=value` entries in order */
  requestArgs: string[]
  /** `-j`: the args object is read from stdin */
  jsonArgs: boolean
  /** `-s`: stdin is offered to the provider as the request stream */
  stream: boolean
  /** `-r`: where to listen; undefined lets the client choose (see the usage text) */
  httpAddr: { host: string, port: number } | undefined
  taskUrl: MsgUrl | null
  timeoutMs: number
}

/** A command line the client cannot run; it exits with status 2. */
export class UsageError extends Error {
  readonly code = 'ERR_CLI_USAGE'
  constructor (message: string) {
    super(message)
    this.name = 'UsageError'
  }
}

/** The coordinator the client talks to when `-c` is not given: a local one on the default port. */
export const DEFAULT_COORDINATOR_URL = 'http://127.0.0.1:8080/'
/** Default wait for the response, in seconds: past the coordinator's own 60 s response timeout. */
export const DEFAULT_TIMEOUT_S = 65
// setTimeout() turns any delay above 2^31-1 ms into 1 ms.
const MAX_TIMEOUT_S = Math.floor((2 ** 31 - 1) / 1000)

/** The --help text. */
export const USAGE: string = `Usage: coordinator-cli -t <task> [options]

Sends one task request to a coordinator and prints the response: the result as JSON on
stdout, or the bytes of the response's stream. An error response is printed on stderr.

Options:
  -c, --coordinator_url <url>   the coordinator: http(s)://host:port/ or
                                unix:///<socket_dir>/coordinator/<name>.sock
                                (default ${DEFAULT_COORDINATOR_URL})
  -t, --task <name>             the task to run (required)
  -a, --request_arg <key=value> a task argument; repeat for more. Dotted keys nest
                                (-a disk.size=10 gives {"disk":{"size":10}}); integers
                                and true/false become JSON numbers and booleans
  -j, --json_args               read the args object, as JSON, from stdin
                                (-a entries are then set on top of it)
  -s, --stream                  offer stdin to the provider as the request's stream
  -r, --http_addr <host:port>   where to listen for the response and serve the stream
                                (default: 127.0.0.1 (or ::1) on a free port for a local
                                coordinator, all interfaces on a free port otherwise)
  -u, --task_url <url>          send the task on to another coordinator (http(s)) or
                                to a unix socket, through this one
      --timeout <seconds>       how long to wait for the response, and for stream
                                data to keep coming (default ${DEFAULT_TIMEOUT_S})
  -h, --help                    print this text and exit

Exit status: 0 success, 1 error response or failure, 2 usage error.
`

const VALUE_FLAGS = ['coordinator_url', 'task', 'request_arg', 'http_addr', 'task_url', 'timeout'] as const
const BOOLEAN_FLAGS = ['json_args', 'stream', 'help'] as const
const SHORT: ReadonlyMap<string, string> = new Map([
  ['c', 'coordinator_url'], ['t', 'task'], ['a', 'request_arg'], ['r', 'http_addr'], ['u', 'task_url'],
  ['j', 'json_args'], ['s', 'stream'], ['h', 'help']
])
const VALUE_SET: ReadonlySet<string> = new Set(VALUE_FLAGS)

/** Parses argv (without node and script); throws `UsageError`. `help` true: print USAGE. */
export function parseCliArgs (argv: readonly string[]): CliOptions | { help: true } {
  const alias: Record<string, string[]> = {}
  for (const key of [...VALUE_FLAGS, ...BOOLEAN_FLAGS]) alias[key] = []
  const args = mri(canonical(argv), {
    alias,
    boolean: [...BOOLEAN_FLAGS],
    // mri would turn '007' into 7 and 'true' into true: every value flag stays a string
    string: [...VALUE_FLAGS],
    unknown (flag: string): never {
      throw unknownFlag(flag)
    }
  }) as Record<string, unknown> & { _: string[] }

  if (listOf(args.help).some(v => v === true)) return { help: true }
  if (args._.length > 0) throw new UsageError(`unexpected argument '${String(args._[0])}' (flags take the form --name value)`)

  const task = single(args, 'task')
  if (task === undefined || task === '') throw new UsageError('--task is required (-t <name>)')
  const jsonArgs = lastBoolean(args.json_args)
  const stream = lastBoolean(args.stream)
  if (jsonArgs && stream) throw new UsageError('--json_args and --stream both read stdin: use one of them')

  return {
    coordinatorUrl: url('coordinator_url', single(args, 'coordinator_url') ?? DEFAULT_COORDINATOR_URL),
    task,
    requestArgs: listOf(args.request_arg).map(v => {
      if (typeof v !== 'string') throw new UsageError('--request_arg needs a value (key=value)')
      return v
    }),
    jsonArgs,
    stream,
    httpAddr: httpAddr(single(args, 'http_addr')),
    taskUrl: optional(single(args, 'task_url'), v => url('task_url', v)),
    timeoutMs: timeout(single(args, 'timeout'))
  }
}

/**
 * Rewrites every flag into the one form mri reads without guessing: short ones into long
 * ones (`-t x`, `-tx`, `-t=x`, `-sj`), and a value flag with its value into `--flag=value`.
 * As with Go's pflag, the argument after a value flag is its value even when it starts with
 * a dash (`--timeout -1` is a bad timeout, not an unknown flag `-1`).
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
      const name = arg.slice(2)
      if (VALUE_SET.has(name)) out.push(i + 1 < argv.length ? `${arg}=${argv[++i] ?? ''}` : arg)
      else out.push(arg)
      continue
    }
    if (!arg.startsWith('-') || arg === '-') {
      out.push(arg)
      continue
    }
    // a group of short flags: booleans may share a dash, a value flag takes the rest
    for (let j = 1; j < arg.length; j++) {
      const long = SHORT.get(arg.charAt(j))
      if (long === undefined) throw unknownFlag(`-${arg.charAt(j)}`)
      if (!VALUE_SET.has(long)) {
        out.push(`--${long}`)
        continue
      }
      const rest = arg.slice(j + 1)
      if (rest !== '') out.push(`--${long}=${rest.startsWith('=') ? rest.slice(1) : rest}`)
      else out.push(i + 1 < argv.length ? `--${long}=${argv[++i] ?? ''}` : `--${long}`)
      break
    }
  }
  return out
}

function unknownFlag (flag: string): UsageError {
  const name = flag.replace(/^-+/, '').replace(/=.*$/, '')
  const hint = flag.startsWith('--') ? didYouMean(name, [...VALUE_FLAGS, ...BOOLEAN_FLAGS], '--') : ''
  return new UsageError(`unknown flag ${flag}${hint}`)
}

function listOf (v: unknown): unknown[] {
  if (v === undefined) return []
  return Array.isArray(v) ? v : [v]
}

// A flag given twice: the last one wins, as with Go's pflag.
function single (args: Record<string, unknown>, key: typeof VALUE_FLAGS[number]): string | undefined {
  const values = listOf(args[key])
  if (values.length === 0) return undefined
  const value = values[values.length - 1]
  if (typeof value !== 'string') throw new UsageError(`--${key} needs a value`)
  return value
}

function lastBoolean (v: unknown): boolean {
  const values = listOf(v)
  return values.length > 0 && values[values.length - 1] === true
}

function optional<T> (value: string | undefined, parse: (v: string) => T): T | null {
  return value === undefined || value === '' ? null : parse(value)
}

function url (key: string, value: string): MsgUrl {
  try {
    return urlOption(value, `--${key}`)
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
}

/** `host:port`, `:port`, `[v6]:port` or `host`; port 0 (or none) picks a free one. */
function httpAddr (value: string | undefined): { host: string, port: number } | undefined {
  if (value === undefined) return undefined
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^\s:[\]]*))(?::(\d{1,5}))?$/.exec(value)
  const port = m?.[3] === undefined ? 0 : Number(m[3])
  if (m === null || port > 65535) throw new UsageError(`--http_addr: '${value}' is not host:port`)
  return { host: m[1] ?? m[2] ?? '', port }
}

function timeout (value: string | undefined): number {
  if (value === undefined) return DEFAULT_TIMEOUT_S * 1000
  if (!/^(?:\d+(?:\.\d*)?|\.\d+)$/.test(value) || Number(value) <= 0 || Number(value) > MAX_TIMEOUT_S) {
    throw new UsageError(`--timeout: '${value}' is not a number of seconds (above 0, at most ${MAX_TIMEOUT_S})`)
  }
  return Math.max(1, Math.round(Number(value) * 1000))
}
