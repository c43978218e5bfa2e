/**
 * acomm messages (SPEC 2): the Request and Response types, their decoding from bytes and their
 * encoding to compact JSON in the original's key order.
 *
 * Decoding scans the input once (`json-scan`), parses only the small fields, and keeps `args`
 * and `result` as raw byte spans, so that opaque payloads pass through byte for byte (SPEC 2.2).
 * URL fields are accepted as Go `net/url.URL` objects or as plain strings (SPEC 2.1).
 */

import { Buffer } from 'node:buffer'
import { CoordinatorError } from './errors.js'
import { goJsonString, goUrlJson, formatUrl, foldKey, parseUrlString, urlFromGoMembers, validateUrl } from './go-url.js'
import type { MsgUrl, UrlForm } from './go-url.js'
import { decodeJsonString, jsonTypeAt, scanJson } from './json-scan.js'
import type { JsonMember, JsonType } from './json-scan.js'

/** A request (SPEC 2). */
export interface Request {
  id: string
  task: string
  taskURL: MsgUrl | null
  responseHook: MsgUrl | null
  streamURL: MsgUrl | null
  /** raw JSON bytes of `args` exactly as received (a subarray of the input); `null` bytes if absent */
  args: Buffer
  /** 'string' if the sender wrote any URL field as a string, else 'go' */
  urlForm: UrlForm
}

/** A response, or an ack (SPEC 2). */
export interface Response {
  id: string
  /** raw JSON bytes of `result` exactly as received; `null` bytes if absent */
  result: Buffer
  streamURL: MsgUrl | null
  error: string
  /** 'string' if the sender wrote its URL field as a string, else 'go' */
  urlForm: UrlForm
}

/** A message that could not be decoded or is invalid; `id` is the message's id if it was readable. */
export class MessageError extends CoordinatorError {
  readonly id: string
  constructor (code: string, message: string, id = '') {
    super(code, message)
    this.name = 'MessageError'
    this.id = id
  }
}

/** The raw JSON `null`, standing for an absent `args` or `result`. */
export const NULL_JSON: Buffer = Buffer.from('null')

const REQUEST_PREFIX = 'failed to unmarshal request: '

// Field slots, found by exact key first, then by Go's case-folded match.
const F_ID = 0
const F_TASK = 1
const F_TASK_URL = 2
const F_RESPONSE_HOOK = 3
const F_STREAM_URL = 4
const F_ARGS = 5
const F_RESULT = 6
const F_ERROR = 7
const FIELD_NAMES = ['id', 'task', 'taskURL', 'responseHook', 'streamURL', 'args', 'result', 'error'] as const

const REQUEST_FIELDS: ReadonlyMap<string, number> = new Map([
  ['id', F_ID], ['task', F_TASK], ['taskURL', F_TASK_URL], ['responseHook', F_RESPONSE_HOOK],
  ['streamURL', F_STREAM_URL], ['args', F_ARGS]
])
const RESPONSE_FIELDS: ReadonlyMap<string, number> = new Map([
  ['id', F_ID], ['result', F_RESULT], ['streamURL', F_STREAM_URL], ['error', F_ERROR]
])
const REQUEST_FIELDS_FOLDED = foldedMap(REQUEST_FIELDS)
const RESPONSE_FIELDS_FOLDED = foldedMap(RESPONSE_FIELDS)

function foldedMap (fields: ReadonlyMap<string, number>): ReadonlyMap<string, number> {
  return new Map([...fields].map(([name, slot]) => [name.toLowerCase(), slot]))
}

// Go's name for a JSON type in "cannot unmarshal" messages.
function goTypeName (type: JsonType): string {
  return type === 'boolean' ? 'bool' : type
}

/** What one scan of a message found: the last member of each field, and the first type error. */
interface Located {
  /** the member that sets each field slot (Go: the last non-null one for strings, the last for the rest) */
  slots: Array<JsonMember | undefined>
  /** the first member whose JSON type the field cannot take */
  typeError: { slot: number, type: JsonType } | undefined
}

function locate (bytes: Buffer, kind: string, exact: ReadonlyMap<string, number>, folded: ReadonlyMap<string, number>): Located {
  const scan = scanJson(bytes)
  if (scan.type !== 'object') {
    throw new CoordinatorError('ERR_MESSAGE_SHAPE', `json: cannot unmarshal ${goTypeName(scan.type)} into Go value of type coordinator.${kind}`)
  }
  const slots: Array<JsonMember | undefined> = new Array(FIELD_NAMES.length)
  let typeError: Located['typeError']
  for (const m of scan.members) {
    const slot = exact.get(m.key) ?? folded.get(foldKey(m.key))
    if (slot === undefined) continue
    const type = jsonTypeAt(bytes, m.start)
    if (slot === F_ARGS || slot === F_RESULT) {
      slots[slot] = m
    } else if (slot === F_ID || slot === F_TASK || slot === F_ERROR) {
      // Go leaves a string field untouched on `null`
      if (type === 'string') slots[slot] = m
      else if (type !== 'null') typeError ??= { slot, type }
    } else if (type === 'string' || type === 'object' || type === 'null') {
      slots[slot] = m
    } else {
      typeError ??= { slot, type }
    }
  }
  return { slots, typeError }
}

function readString (bytes: Buffer, m: JsonMember | undefined): string {
  return m === undefined ? '' : decodeJsonString(bytes, m.start, m.end)
}

function raw (bytes: Buffer, m: JsonMember | undefined): Buffer {
  return m === undefined ? NULL_JSON : bytes.subarray(m.start, m.end)
}

// The value of a scanned member, decoded cheaply for the types a URL object's fields take.
function memberValue (bytes: Buffer, m: JsonMember): unknown {
  switch (bytes[m.start]) {
    case 0x22: return decodeJsonString(bytes, m.start, m.end)
    case 0x74: return true
    case 0x66: return false
    case 0x6e: return null
    default: return JSON.parse(bytes.toString('utf8', m.start, m.end))
  }
}

/** Decodes and validates one URL field; `null` when absent or null. */
function readUrl (bytes: Buffer, m: JsonMember | undefined, field: string, forms: { string: boolean }): MsgUrl | null {
  if (m === undefined) return null
  const first = bytes[m.start]
  if (first === 0x6e) return null
  let u: MsgUrl
  if (first === 0x22) {
    forms.string = true
    try {
      u = parseUrlString(decodeJsonString(bytes, m.start, m.end))
    } catch (err) {
      throw new CoordinatorError((err as CoordinatorError).code, `${field}: ${(err as Error).message}`)
    }
  } else {
    const members = scanJson(bytes.subarray(m.start, m.end)).members
    const offset = m.start
    u = urlFromGoMembers(members.map(({ key, start, end }) =>
      [key, memberValue(bytes, { key, start: start + offset, end: end + offset })] as const), field)
  }
  return validateUrl(u, field)
}

function wrap (err: unknown, prefix: string, id: string): MessageError {
  const e = err as CoordinatorError
  // the codec throws only coded errors: anything else is a bug, surfaced as it is
  /* c8 ignore next */
  if (typeof e?.code !== 'string') throw err
  const decodeFailure = e.code === 'ERR_MESSAGE_UTF8' || e.code === 'ERR_MESSAGE_JSON' ||
    e.code === 'ERR_MESSAGE_SHAPE' || e.code === 'ERR_MESSAGE_FIELD_TYPE'
  return new MessageError(e.code, (decodeFailure ? prefix : '') + e.message, id)
}

function typeErrorOf (kind: string, located: Located): CoordinatorError | undefined {
  const te = located.typeError
  if (te === undefined) return undefined
  const name = FIELD_NAMES[te.slot]!
  const goType = te.slot === F_ID || te.slot === F_TASK || te.slot === F_ERROR ? 'string' : 'url.URL'
  return new CoordinatorError('ERR_MESSAGE_FIELD_TYPE',
    `json: cannot unmarshal ${goTypeName(te.type)} into Go struct field ${kind}.${name} of type ${goType}`)
}

/** Decodes a request: one scan, small fields parsed, `args` kept raw; throws `MessageError`. */
export function decodeRequest (bytes: Buffer): Request {
  let id = ''
  try {
    const located = locate(bytes, 'Request', REQUEST_FIELDS, REQUEST_FIELDS_FOLDED)
    const { slots } = located
    id = readString(bytes, slots[F_ID])
    const typeError = typeErrorOf('Request', located)
    if (typeError !== undefined) throw typeError
    const task = readString(bytes, slots[F_TASK])
    if (id === '') throw new CoordinatorError('ERR_MESSAGE_MISSING_ID', 'missing id')
    if (task === '') throw new CoordinatorError('ERR_MESSAGE_MISSING_TASK', 'request missing task')
    const forms = { string: false }
    const taskURL = readUrl(bytes, slots[F_TASK_URL], 'taskURL', forms)
    const responseHook = readUrl(bytes, slots[F_RESPONSE_HOOK], 'responseHook', forms)
    const streamURL = readUrl(bytes, slots[F_STREAM_URL], 'streamURL', forms)
    return {
      id,
      task,
      taskURL,
      responseHook,
      streamURL,
      args: raw(bytes, slots[F_ARGS]),
      urlForm: forms.string ? 'string' : 'go'
    }
  } catch (err) {
    throw wrap(err, REQUEST_PREFIX, id)
  }
}

/** Decodes a response (or an ack): `id` and `error` default to ''; throws `MessageError`. */
export function decodeResponse (bytes: Buffer): Response {
  let id = ''
  try {
    const located = locate(bytes, 'Response', RESPONSE_FIELDS, RESPONSE_FIELDS_FOLDED)
    const { slots } = located
    id = readString(bytes, slots[F_ID])
    const typeError = typeErrorOf('Response', located)
    if (typeError !== undefined) throw typeError
    const forms = { string: false }
    const streamURL = readUrl(bytes, slots[F_STREAM_URL], 'streamURL', forms)
    return {
      id,
      result: raw(bytes, slots[F_RESULT]),
      streamURL,
      error: readString(bytes, slots[F_ERROR]),
      urlForm: forms.string ? 'string' : 'go'
    }
  } catch (err) {
    throw wrap(err, '', id)
  }
}

function urlJson (u: MsgUrl | null, form: UrlForm): string {
  if (u === null) return 'null'
  return form === 'go' ? goUrlJson(u) : goJsonString(formatUrl(u))
}

function rawOrNull (value: Buffer): Buffer {
  return value.length === 0 ? NULL_JSON : value
}

// Writes `head`, the raw bytes, then `tail`, into one new buffer.
function splice (head: string, middle: Buffer, tail: string): Buffer {
  const headBytes = Buffer.byteLength(head)
  const tailBytes = Buffer.byteLength(tail)
  const out = Buffer.allocUnsafe(headBytes + middle.length + tailBytes)
  out.write(head, 0)
  middle.copy(out, headBytes)
  out.write(tail, headBytes + middle.length)
  return out
}

/** Encodes a request as compact JSON, every key present, `args` spliced in verbatim. */
export function encodeRequest (req: Request, form: UrlForm): Buffer {
  const head = '{"id":' + goJsonString(req.id) +
    ',"task":' + goJsonString(req.task) +
    ',"taskURL":' + urlJson(req.taskURL, form) +
    ',"responseHook":' + urlJson(req.responseHook, form) +
    ',"streamURL":' + urlJson(req.streamURL, form) +
    ',"args":'
  return splice(head, rawOrNull(req.args), '}')
}

/** Encodes a response as compact JSON (keys error, id, result, streamURL), `result` verbatim. */
export function encodeResponse (res: Response, form: UrlForm): Buffer {
  const head = '{"error":' + goJsonString(res.error) + ',"id":' + goJsonString(res.id) + ',"result":'
  return splice(head, rawOrNull(res.result), ',"streamURL":' + urlJson(res.streamURL, form) + '}')
}

/** The ack of a request or response: its id, and '' (accepted) or the refusal's message. */
export function ackResponse (id: string, error = ''): Response {
  return { id, result: NULL_JSON, streamURL: null, error, urlForm: 'go' }
}
