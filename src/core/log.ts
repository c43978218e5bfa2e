/**
 * JSON-lines logger in the shape of the original's logrus JSON formatter:
 * `{"time":"<ISO>","level":"info","msg":"…",…fields}`, one object per line.
 */
import type { LogLevel } from './config.js'

/** One log call: a message and optional structured fields. */
export type LogFn = (msg: string, fields?: Record<string, unknown>) => void

/** Where log lines go; `process.stderr` by default. */
export interface LogSink {
  write (s: string): unknown
}

/** The logger every part of the coordinator receives. */
export interface Logger {
  debug: LogFn
  info: LogFn
  warn: LogFn
  error: LogFn
  /** Logs at level fatal; exiting is the caller's decision. */
  fatal: LogFn
  isEnabled (level: LogLevel): boolean
}

const RANK: Readonly<Record<LogLevel, number>> = { debug: 0, info: 1, warn: 2, error: 3, fatal: 4, panic: 5 }
// logrus writes "warning", not "warn".
const WIRE_NAME: Readonly<Record<LogLevel, string>> = {
  debug: 'debug', info: 'info', warn: 'warning', error: 'error', fatal: 'fatal', panic: 'panic'
}
// logrus renames clashing fields the same way (fields.time, fields.msg, fields.level).
const RESERVED: ReadonlySet<string> = new Set(['time', 'level', 'msg'])

const noop: LogFn = () => {}

/** A logger writing JSON lines at `level` and above to `out`. */
export function createLogger (level: LogLevel, out: LogSink = process.stderr): Logger {
  const threshold = RANK[level]
  const withStack = level === 'debug'
  const isEnabled = (l: LogLevel): boolean => RANK[l] >= threshold
  // A disabled level gets a no-op: a call below the level costs one empty call.
  const make = (l: LogLevel): LogFn => {
    if (!isEnabled(l)) return noop
    const name = WIRE_NAME[l]
    return (msg, fields) => {
      const line = formatLine(name, msg, fields, withStack)
      try {
        out.write(line)
      } catch {
        // Logging must never take a request down with it, and there is nowhere left to report.
      }
    }
  }
  return {
    debug: make('debug'),
    info: make('info'),
    warn: make('warn'),
    error: make('error'),
    fatal: make('fatal'),
    isEnabled
  }
}

/** A logger that writes nothing, for tests and embedding. */
export const silentLogger: Logger = Object.freeze({
  debug: noop,
  info: noop,
  warn: noop,
  error: noop,
  fatal: noop,
  isEnabled: () => false
})

function formatLine (level: string, msg: string, fields: Record<string, unknown> | undefined, withStack: boolean): string {
  const text = typeof msg === 'string' ? msg : String(msg)
  let line = `{"time":"${new Date().toISOString()}","level":"${level}","msg":${JSON.stringify(text)}`
  if (fields !== undefined && fields !== null) {
    for (const key of Object.keys(fields)) {
      const name = RESERVED.has(key) ? `fields.${key}` : key
      let value: unknown
      try {
        value = fields[key]
      } catch (err) {
        line += `,${JSON.stringify(name)}:${unserialisable(err)}`
        continue
      }
      if (value instanceof Error) {
        line += `,${JSON.stringify(name)}:${JSON.stringify(String(value.message))}`
        const code = (value as { code?: unknown }).code
        if (typeof code === 'string' || typeof code === 'number') line += `,${JSON.stringify(`${name}_code`)}:${JSON.stringify(code)}`
        if (withStack && typeof value.stack === 'string') line += `,${JSON.stringify(`${name}_stack`)}:${JSON.stringify(value.stack)}`
        continue
      }
      const json = toJson(value, withStack)
      if (json !== undefined) line += `,${JSON.stringify(name)}:${json}`
    }
  }
  return line + '}\n'
}

/** JSON text of a field value; undefined for values JSON leaves out (undefined, functions, symbols). */
function toJson (value: unknown, withStack: boolean): string | undefined {
  try {
    return JSON.stringify(value, function replacer (_key: string, v: unknown): unknown {
      if (typeof v === 'bigint') return v.toString()
      if (v instanceof Error) {
        const code = (v as { code?: unknown }).code
        return {
          message: v.message,
          ...(code !== undefined ? { code } : {}),
          ...(withStack ? { stack: v.stack } : {})
        }
      }
      return v
    })
  } catch (err) {
    return unserialisable(err)
  }
}

function unserialisable (err: unknown): string {
  let reason = 'unknown error'
  try {
    reason = (err instanceof Error ? err.message : String(err)).split('\n', 1)[0] ?? reason
  } catch {}
  return JSON.stringify(`[unserialisable: ${reason}]`)
}
