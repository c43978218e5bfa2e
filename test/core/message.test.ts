import t from 'tap'
import { Buffer } from 'node:buffer'
import { CoordinatorError } from '../../src/core/errors.js'
import { httpUrl, unixUrl } from '../../src/core/go-url.js'
import {
  MessageError, NULL_JSON, ackResponse, decodeRequest, decodeResponse, encodeRequest, encodeResponse
} from '../../src/core/message.js'
import type { Request } from '../../src/core/message.js'

const HOOK_GO = '{"Scheme":"unix","Opaque":"","User":null,"Host":"","Path":"/run/h.sock","RawPath":"","OmitHost":false,"ForceQuery":false,"RawQuery":"","Fragment":"","RawFragment":""}'

function req (json: string): Request {
  return decodeRequest(Buffer.from(json))
}

function requestError (input: string | Buffer): MessageError {
  try {
    decodeRequest(typeof input === 'string' ? Buffer.from(input) : input)
  } catch (err) {
    if (err instanceof MessageError) return err
    throw err
  }
  throw new Error('decoded without error')
}

function responseError (input: string): MessageError {
  try {
    decodeResponse(Buffer.from(input))
  } catch (err) {
    if (err instanceof MessageError) return err
    throw err
  }
  throw new Error('decoded without error')
}

t.test('args pass through byte-identical (64-bit integers, huge floats, escapes)', async t => {
  const args = '{"n":18446744073709551615,"f":1.0e400,"s":"\\u00e9"}'
  const input = Buffer.from(`{"id":"a","task":"T","args":${args}}`)
  const r = decodeRequest(input)
  t.equal(r.args.toString(), args)
  t.equal(r.args.buffer, input.buffer, 'args is a view of the input, not a copy')
  const out = encodeRequest(r, 'go').toString()
  t.ok(out.endsWith(`,"args":${args}}`), out)
  t.equal(decodeRequest(Buffer.from(out)).args.toString(), args)
})

t.test('decodes a request with defaults for absent fields', async t => {
  const r = req('{"id":"r1","task":"CPUInfo"}')
  t.strictSame(r, {
    id: 'r1', task: 'CPUInfo', taskURL: null, responseHook: null, streamURL: null, args: NULL_JSON, urlForm: 'go'
  })
  t.equal(NULL_JSON.toString(), 'null')
  const full = req(`{"id":"r2","task":"T","taskURL":null,"responseHook":${HOOK_GO},"streamURL":"http://h:1/s?x=1","args":[1, 2]}`)
  t.strictSame(full.responseHook, unixUrl('/run/h.sock'))
  t.strictSame(full.streamURL, httpUrl('h:1', '/s', 'x=1'))
  t.equal(full.urlForm, 'string')
  t.equal(full.args.toString(), '[1, 2]')
  t.equal(req('{"id":"r","task":"T","args":null}').args.toString(), 'null')
  t.equal(req('{"id":"r","task":"T","args":"s"}').args.toString(), '"s"')
})

t.test('keys match case-insensitively, the last duplicate wins, unknown keys are ignored', async t => {
  const r = req('{"ID":"a","Task":"T","RESPONSEHOOK":"unix:///x.sock","taskurl":null,"StreamUrl":null,"ARGS":1,"other":{"id":"z"}}')
  t.equal(r.id, 'a')
  t.equal(r.task, 'T')
  t.strictSame(r.responseHook, unixUrl('/x.sock'))
  t.equal(r.args.toString(), '1')
  const d = req('{"id":"a","task":"T","args":1,"id":"b","Args":2,"responseHook":"unix:///x","responseHook":null}')
  t.equal(d.id, 'b')
  t.equal(d.args.toString(), '2')
  t.equal(d.responseHook, null)
  // Go leaves a string field untouched on null
  t.equal(req('{"id":"a","id":null,"task":"T"}').id, 'a')
  // the long s folds like an s (Go's EqualFold)
  t.equal(req('{"id":"a","taſk":"T"}').task, 'T')
  t.equal(req('{"id":"\\u003c\\u00e9","task":"T"}').id, '<é')
})

t.test('each decode failure has its code, and the id when it was readable', async t => {
  const cases: Array<[string | Buffer, string, string]> = [
    [Buffer.from([0x7b, 0xff, 0x7d]), 'ERR_MESSAGE_UTF8', ''],
    ['', 'ERR_MESSAGE_JSON', ''],
    ['{"id":"a",', 'ERR_MESSAGE_JSON', ''],
    ['[{"id":"a"}]', 'ERR_MESSAGE_SHAPE', ''],
    ['null', 'ERR_MESSAGE_SHAPE', ''],
    ['"x"', 'ERR_MESSAGE_SHAPE', ''],
    ['{"id":5,"task":"T"}', 'ERR_MESSAGE_FIELD_TYPE', ''],
    ['{"id":"a","task":true}', 'ERR_MESSAGE_FIELD_TYPE', 'a'],
    ['{"responseHook":5,"id":"a","task":"T"}', 'ERR_MESSAGE_FIELD_TYPE', 'a'],
    ['{"id":"a","task":"T","streamURL":["x"]}', 'ERR_MESSAGE_FIELD_TYPE', 'a'],
    ['{"id":"a","task":"T","taskURL":{"Host":5}}', 'ERR_MESSAGE_FIELD_TYPE', 'a'],
    ['{"task":"T"}', 'ERR_MESSAGE_MISSING_ID', ''],
    ['{"id":"","task":"T"}', 'ERR_MESSAGE_MISSING_ID', ''],
    ['{"id":"a"}', 'ERR_MESSAGE_MISSING_TASK', 'a'],
    ['{"id":"a","task":""}', 'ERR_MESSAGE_MISSING_TASK', 'a'],
    ['{"id":"a","task":"T","responseHook":"notaurl"}', 'ERR_URL_INVALID', 'a'],
    ['{"id":"a","task":"T","responseHook":"http://h/%zz"}', 'ERR_URL_INVALID', 'a'],
    ['{"id":"a","task":"T","responseHook":{"Scheme":"unix","Path":"rel"}}', 'ERR_URL_INVALID', 'a'],
    ['{"id":"a","task":"T","streamURL":{"Scheme":"ftp","Host":"x"}}', 'ERR_URL_SCHEME', 'a'],
    ['{"id":"a","task":"T","streamURL":"ftp://x/y"}', 'ERR_URL_SCHEME', 'a'],
    ['{"id":"a","task":"T","responseHook":"http://u:p@h/x"}', 'ERR_URL_CREDENTIALS', 'a'],
    ['{"id":"a","task":"T","taskURL":{"Scheme":"http","Host":"h:0"}}', 'ERR_URL_PORT', 'a'],
    ['{"id":"a","task":"T","taskURL":"http://h:99999/"}', 'ERR_URL_PORT', 'a']
  ]
  for (const [input, code, id] of cases) {
    const err = requestError(input)
    const name = typeof input === 'string' ? input : input.toString('hex')
    t.equal(err.code, code, name)
    t.equal(err.id, id, `${name}: id`)
    t.ok(err instanceof CoordinatorError, `${name}: is a CoordinatorError`)
  }
})

t.test('request error messages follow the original', async t => {
  t.equal(requestError('').message, 'failed to unmarshal request: unexpected end of JSON input')
  t.equal(requestError('hello').message, "failed to unmarshal request: invalid character 'h' looking for beginning of value")
  t.equal(requestError('{"id":5}').message, 'failed to unmarshal request: json: cannot unmarshal number into Go struct field Request.id of type string')
  t.equal(requestError('{"id":"a","responseHook":[]}').message, 'failed to unmarshal request: json: cannot unmarshal array into Go struct field Request.responseHook of type url.URL')
  t.equal(requestError('{"task":"T"}').message, 'missing id')
  t.equal(requestError('{"id":"a"}').message, 'request missing task')
  t.match(requestError('{"id":"a","task":"T","streamURL":"ftp://x/y"}').message, /^streamURL: .*ftp/)
  t.match(requestError('{"id":"a","task":"T","responseHook":"notaurl"}').message, /^responseHook: /)
  t.equal(requestError('{}').name, 'MessageError')
})

t.test('nesting deeper than the limit is a coded error, not a crash', async t => {
  const deep = Buffer.from('{"id":"a","task":"T","args":' + '['.repeat(100000))
  t.equal(requestError(deep).code, 'ERR_MESSAGE_JSON')
  const closed = Buffer.from('{"id":"a","task":"T","args":' + '['.repeat(20000) + ']'.repeat(20000) + '}')
  t.equal(requestError(closed).code, 'ERR_MESSAGE_JSON')
})

t.test('decodes responses: defaults, raw result, both URL forms', async t => {
  t.strictSame(decodeResponse(Buffer.from('{}')), ackResponse(''))
  const r = decodeResponse(Buffer.from('{"Error":"boom","id":"x","Result":{"big":18446744073709551615},"streamURL":"unix:///s.sock"}'))
  t.equal(r.error, 'boom')
  t.equal(r.id, 'x')
  t.equal(r.result.toString(), '{"big":18446744073709551615}')
  t.strictSame(r.streamURL, unixUrl('/s.sock'))
  t.equal(r.urlForm, 'string')
  const g = decodeResponse(Buffer.from(`{"id":"x","result":null,"streamURL":${HOOK_GO},"error":null}`))
  t.equal(g.urlForm, 'go')
  t.equal(g.error, '')
  t.equal(g.result.toString(), 'null')
})

t.test('response errors are coded and carry the id when readable', async t => {
  const cases: Array<[string, string, string]> = [
    ['not json', 'ERR_MESSAGE_JSON', ''],
    ['[]', 'ERR_MESSAGE_SHAPE', ''],
    ['{"id":1}', 'ERR_MESSAGE_FIELD_TYPE', ''],
    ['{"id":"x","error":false}', 'ERR_MESSAGE_FIELD_TYPE', 'x'],
    ['{"id":"x","streamURL":7}', 'ERR_MESSAGE_FIELD_TYPE', 'x'],
    ['{"id":"x","streamURL":"gopher://h/"}', 'ERR_URL_SCHEME', 'x']
  ]
  for (const [input, code, id] of cases) {
    const err = responseError(input)
    t.equal(err.code, code, input)
    t.equal(err.id, id, `${input}: id`)
  }
  t.equal(responseError('not json').message, "invalid character 'o' in literal null (expecting 'u')")
  t.equal(responseError('{"id":"x","error":false}').message, 'json: cannot unmarshal bool into Go struct field Response.error of type string')
})

t.test('encodes requests in both URL forms, every key present, in the original order', async t => {
  const r: Request = {
    id: 'id<1>&',
    task: 'T',
    taskURL: null,
    responseHook: unixUrl('/run/h.sock'),
    streamURL: httpUrl('localhost:8080', '/stream', 'addr=unix%3A%2F%2F%2Frun%2Fx.sock'),
    args: Buffer.from('{ "a" : [1, 2] }'),
    urlForm: 'go'
  }
  t.equal(encodeRequest(r, 'go').toString(),
    '{"id":"id\\u003c1\\u003e\\u0026","task":"T","taskURL":null,"responseHook":' + HOOK_GO +
    ',"streamURL":{"Scheme":"http","Opaque":"","User":null,"Host":"localhost:8080","Path":"/stream","RawPath":"","OmitHost":false,"ForceQuery":false,"RawQuery":"addr=unix%3A%2F%2F%2Frun%2Fx.sock","Fragment":"","RawFragment":""}' +
    ',"args":{ "a" : [1, 2] }}')
  t.equal(encodeRequest(r, 'string').toString(),
    '{"id":"id\\u003c1\\u003e\\u0026","task":"T","taskURL":null,"responseHook":"unix:///run/h.sock",' +
    '"streamURL":"http://localhost:8080/stream?addr=unix%3A%2F%2F%2Frun%2Fx.sock","args":{ "a" : [1, 2] }}')
  t.ok(encodeRequest({ ...r, args: Buffer.alloc(0) }, 'go').toString().endsWith(',"args":null}'))
  t.ok(encodeRequest({ ...r, args: NULL_JSON, id: 'é😀' }, 'string').toString().startsWith('{"id":"é😀","task":"T",'))
  const back = decodeRequest(encodeRequest(r, 'string'))
  t.strictSame({ ...back, args: back.args.toString() }, { ...r, args: r.args.toString(), urlForm: 'string' })
})

t.test('encodes responses and acks with keys error, id, result, streamURL', async t => {
  t.equal(encodeResponse(ackResponse('cap-a1'), 'go').toString(), '{"error":"","id":"cap-a1","result":null,"streamURL":null}')
  t.equal(encodeResponse(ackResponse('', 'missing id'), 'string').toString(), '{"error":"missing id","id":"","result":null,"streamURL":null}')
  const res = { id: 'x', result: Buffer.from('[1, 2]'), streamURL: unixUrl('/s.sock'), error: '<&>', urlForm: 'go' as const }
  t.equal(encodeResponse(res, 'string').toString(), '{"error":"\\u003c\\u0026\\u003e","id":"x","result":[1, 2],"streamURL":"unix:///s.sock"}')
  t.equal(encodeResponse(res, 'go').toString(),
    '{"error":"\\u003c\\u0026\\u003e","id":"x","result":[1, 2],"streamURL":{"Scheme":"unix","Opaque":"","User":null,"Host":"","Path":"/s.sock","RawPath":"","OmitHost":false,"ForceQuery":false,"RawQuery":"","Fragment":"","RawFragment":""}}')
  t.ok(encodeResponse({ ...res, result: Buffer.alloc(0) }, 'go').toString().startsWith('{"error":"\\u003c\\u0026\\u003e","id":"x","result":null,'))
  t.strictSame(ackResponse('a', 'e'), { id: 'a', result: NULL_JSON, streamURL: null, error: 'e', urlForm: 'go' })
})

t.test('a request with a 1 MiB args round-trips unchanged', async t => {
  const big = '{"data":"' + 'x'.repeat(1 << 20) + '","n":[' + Array.from({ length: 1000 }, (_, k) => k).join(',') + ']}'
  const input = Buffer.from(`{"id":"big","task":"T","responseHook":${HOOK_GO},"args":${big}}`)
  const r = decodeRequest(input)
  t.equal(r.args.length, Buffer.byteLength(big))
  t.ok(encodeRequest(r, 'go').equals(Buffer.from(`{"id":"big","task":"T","taskURL":null,"responseHook":${HOOK_GO},"streamURL":null,"args":${big}}`)))
})
