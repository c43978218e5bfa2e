/**
 * The args object of a `coordinator-cli` request, from `-a key=value` entries (dotted keys
 * nest; Go's `strconv` rules turn integers and booleans into JSON values) set on top of an
 * optional JSON object read from stdin (`-j`). Values that no entry touches keep their bytes:
 * a 64-bit integer in the stdin object is passed on exactly.
 */
import { Buffer } from 'node:buffer'
import { scanJson } from '../core/json-scan.js'
import { rawJson } from '../provider/raw-json.js'
import { UsageError } from './cli-args.js'

type ArgValue = ArgObject | Raw | bigint | boolean | string

/** An object under construction: members in insertion order. */
class ArgObject extends Map<string, ArgValue> {}

/** A JSON value kept as its bytes. */
class Raw {
  readonly bytes: Buffer
  constructor (bytes: Buffer) {
    this.bytes = bytes
  }
}

// Go's strconv.ParseBool, tried after ParseInt (so "1" and "0" are integers).
const BOOLEANS: ReadonlyMap<string, boolean> = new Map([
  ['t', true], ['T', true], ['TRUE', true], ['true', true], ['True', true],
  ['f', false], ['F', false], ['FALSE', false], ['false', false], ['False', false]
])
const INT64_MIN = -(2n ** 63n)
const INT64_MAX = 2n ** 63n - 1n

/** The value of one `-a` entry: an int64, a boolean, or the text itself (Go's rules). */
export function coerceArgValue (text: string): bigint | boolean | string {
  if (/^[+-]?\d+$/.test(text)) {
    const n = BigInt(text)
    if (n >= INT64_MIN && n <= INT64_MAX) return n
  }
  return BOOLEANS.get(text) ?? text
}

/**
 * Builds the args JSON: `base` (a JSON object's bytes, from `-j`) or `{}`, with each
 * `key=value` entry set in order. Throws `UsageError` for a malformed entry, a key path
 * through a value that is not an object, or a `base` that is not a JSON object.
 */
export function buildArgs (entries: readonly string[], base?: Buffer): Buffer {
  if (base !== undefined && entries.length === 0) {
    checkObject(base)
    return rawJson(base).bytes
  }
  const root = base === undefined ? new ArgObject() : objectOf(base)
  for (const entry of entries) {
    const eq = entry.indexOf('=')
    const path = eq === -1 ? [] : entry.slice(0, eq).split('.')
    if (eq === -1 || path.some(key => key === '')) {
      throw new UsageError(`invalid request arg: '${entry}' (want key=value, keys separated by dots)`)
    }
    set(root, path, coerceArgValue(entry.slice(eq + 1)))
  }
  const out: Array<Buffer | string> = []
  write(root, out)
  return Buffer.concat(out.map(part => typeof part === 'string' ? Buffer.from(part) : part))
}

function set (root: ArgObject, path: readonly string[], value: ArgValue): void {
  let node = root
  for (let i = 0; i < path.length - 1; i++) {
    const key = path[i] as string
    const current = node.get(key)
    let next: ArgObject
    if (current === undefined) {
      next = new ArgObject()
    } else if (current instanceof ArgObject) {
      next = current
    } else if (current instanceof Raw && isObject(current.bytes)) {
      next = objectOf(current.bytes)
    } else {
      throw new UsageError(`request arg '${path.join('.')}': '${path.slice(0, i + 1).join('.')}' is already set and is not an object`)
    }
    node.set(key, next)
    node = next
  }
  node.set(path[path.length - 1] as string, value)
}

function isObject (bytes: Buffer): boolean {
  try {
    return scanJson(bytes).type === 'object'
  } catch {
    return false
  }
}

function checkObject (bytes: Buffer): void {
  let type: string
  try {
    type = scanJson(bytes).type
  } catch (err) {
    throw new UsageError(`--json_args: stdin is not valid JSON: ${(err as Error).message}`)
  }
  if (type !== 'object') throw new UsageError(`--json_args: stdin holds a JSON ${type}, not an object`)
}

// The members of a JSON object as raw values; a repeated key keeps its first place and last value.
function objectOf (bytes: Buffer): ArgObject {
  checkObject(bytes)
  const obj = new ArgObject()
  for (const m of scanJson(bytes).members) obj.set(m.key, new Raw(bytes.subarray(m.start, m.end)))
  return obj
}

function write (value: ArgValue, out: Array<Buffer | string>): void {
  if (value instanceof ArgObject) {
    out.push('{')
    let first = true
    for (const [key, member] of value) {
      out.push(first ? '' : ',', JSON.stringify(key), ':')
      first = false
      write(member, out)
    }
    out.push('}')
  } else if (value instanceof Raw) {
    out.push(value.bytes)
  } else if (typeof value === 'string') {
    out.push(JSON.stringify(value))
  } else {
    out.push(String(value))
  }
}
