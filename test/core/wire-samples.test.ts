import t from 'tap'
import { Buffer } from 'node:buffer'
import { readFileSync, readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { httpUrl, unixUrl } from '../../src/core/go-url.js'
import {
  MessageError, ackResponse, decodeRequest, decodeResponse, encodeRequest, encodeResponse
} from '../../src/core/message.js'

// /work/main/test/core -> /work/shared/wire-samples (exact bytes from the Go original)
const SAMPLES = new URL('../../../shared/wire-samples/', import.meta.url)

function sample (name: string): Buffer {
  return readFileSync(fileURLToPath(new URL(name, SAMPLES)))
}

// The body of a `curl -i` capture: what follows the blank line after the headers.
function httpBody (name: string): Buffer {
  const text = sample(name)
  const at = text.indexOf('\r\n\r\n')
  return text.subarray(at + 4)
}

function ackOf (fn: () => unknown): Buffer {
  try {
    fn()
  } catch (err) {
    if (!(err instanceof MessageError)) throw err
    return encodeResponse(ackResponse(err.id, err.message), 'go')
  }
  throw new Error('no error')
}

// Requests the original accepted, written by Go with every key, in Go's order.
const GO_REQUESTS = [
  '01-cli-request-body-CPUInfo.json', '01-cli-request-body-StreamEcho-stream.json', '01-cli-request-body-with-taskURL.json',
  '02a-http-request-sent.json', '02a-provider-recv-http-req-httphook.json', '02b-http-request-sent.json',
  '02b-provider-recv-http-req-httphook-httpstream.json', '02c-internal-request-sent.json',
  '02c-provider-recv-internal-req-unixhook-passthrough.json', '02d-provider-recv-args-compacted-escaped.json',
  '07a-http-request-with-taskURL.json', '07b-external-task-post-body.json', '07c-external-task-post-body-with-streamURL.json'
]

// Responses and acks written by Go (keys error, id, result, streamURL).
const GO_RESPONSES = [
  '02e-coordinator-response-socket-ack.json', '03i-http-ack-missing-id.json', '03j-http-ack-missing-task.json',
  '03k-http-ack-duplicate-id.json', '04a-hook-post-body-capture-result.json', '04b-hook-post-body-CPUInfo.json',
  '04c-hook-post-body-DiskInfo.json', '04d-hook-post-body-CPUInfo-task-error.json', '04e-hook-post-body-provider-error.json',
  '04f-hook-post-body-result-compacted-escaped.json', '05a-hook-post-body-timeout.json',
  '05b-hook-post-body-timeout-late-provider.json', '05c-hook-post-body-timeout-after-string-streamURL-response.json',
  '06a-hook-post-body-StreamEcho-rewritten-streamURL.json', '06b-hook-post-body-capture-rewritten-streamURL.json',
  '07e-hook-post-body-forwarded-from-proxy.json', '08a-internal-ack-garbage.json', '08b-internal-ack-missing-id.json',
  '08c-internal-ack-string-url.json', '08d-internal-ack-unknown-task.json', '09a-provider-simple-ack.json',
  '09b-provider-simple-response-frame-CPUInfo.json', '09c-provider-simple-response-frame-StreamEcho.json',
  '09d-provider-simple-ack-missing-id.json', '09e-provider-simple-ack-garbage.json'
]

// Responses written by peers in other shapes (key order, whitespace, fewer URL keys, strings).
const OTHER_RESPONSES = [
  '02e-provider-response-frame-sent.json', '04f-provider-response-sent-with-whitespace.json',
  '05c-provider-response-with-string-streamURL.json', '06b-provider-response-with-unix-streamURL.json',
  '07d-proxy-response-posted.json'
]

t.test('the sample directory holds every file these tests name', async t => {
  const names = new Set(readdirSync(SAMPLES))
  for (const name of [...GO_REQUESTS, ...GO_RESPONSES, ...OTHER_RESPONSES]) t.ok(names.has(name), name)
})

t.test('Go-written requests decode and re-encode to the same bytes', async t => {
  for (const name of GO_REQUESTS) {
    const bytes = sample(name)
    const r = decodeRequest(bytes)
    t.equal(r.urlForm, 'go', name)
    t.equal(encodeRequest(r, 'go').toString(), bytes.toString(), name)
  }
})

t.test('02a: the provider frame decodes to the expected request', async t => {
  const r = decodeRequest(sample('02a-provider-recv-http-req-httphook.json'))
  t.equal(r.id, 'cap-a1')
  t.equal(r.task, 'Capture')
  t.equal(r.taskURL, null)
  t.strictSame(r.responseHook, unixUrl('/run/cerana/response/coord.sock'))
  t.equal(r.streamURL, null)
  t.equal(r.args.toString(), '{"k":"v"}')
  const sent = decodeRequest(sample('02a-http-request-sent.json'))
  t.strictSame(sent.responseHook, httpUrl('127.0.0.1:14081', '/hook-a1'))
  // what the coordinator hands the provider: the same request with its response socket as hook
  const toProvider = encodeRequest({ ...sent, responseHook: unixUrl('/run/cerana/response/coord.sock') }, 'go')
  t.ok(toProvider.equals(sample('02a-provider-recv-http-req-httphook.json')))
})

t.test('the .frame.hex payloads are the .json samples', async t => {
  for (const prefix of ['02a-provider-recv-http-req-httphook', '09b-provider-simple-response-frame-CPUInfo']) {
    const frame = Buffer.from(sample(`${prefix}.frame.hex`).toString().trim(), 'hex')
    const json = sample(`${prefix}.json`)
    t.equal(frame.readUInt32BE(0), json.length, prefix)
    t.ok(frame.subarray(4).equals(json), prefix)
  }
})

t.test('02d: args with whitespace and <b>& pass through verbatim', async t => {
  const bytes = sample('02d-http-request-sent-with-whitespace.json')
  const r = decodeRequest(bytes)
  t.equal(r.args.toString(), '{ "a" : "<b>&" ,  "n": [1, 2] }')
  t.strictSame(r.responseHook, httpUrl('127.0.0.1:14081', '/hook-ws'))
  const out = encodeRequest(r, 'go').toString()
  t.ok(out.endsWith(',"args":{ "a" : "<b>&" ,  "n": [1, 2] }}'))
  // Go re-compacted and escaped the same value: equal as JSON, not as bytes
  const goArgs = decodeRequest(sample('02d-provider-recv-args-compacted-escaped.json')).args
  t.strictSame(JSON.parse(goArgs.toString()), JSON.parse(r.args.toString()))
})

t.test('Go-written responses decode and re-encode to the same bytes', async t => {
  for (const name of GO_RESPONSES) {
    const bytes = sample(name)
    const r = decodeResponse(bytes)
    t.equal(encodeResponse(r, r.urlForm).toString(), bytes.toString(), name)
  }
})

t.test('responses in other shapes decode, results kept verbatim', async t => {
  for (const name of OTHER_RESPONSES) t.doesNotThrow(() => decodeResponse(sample(name)), name)
  const ws = decodeResponse(sample('04f-provider-response-sent-with-whitespace.json'))
  t.equal(ws.result.toString(), '{ "x" : "<y>&z" , "l": [ 1 ,2 ] }')
  t.equal(ws.id, 'cap-ws')
  const old = decodeResponse(sample('06b-provider-response-with-unix-streamURL.json'))
  t.strictSame(old.streamURL, unixUrl('/run/cerana/CaptureStream/capture-stream-1.sock'))
  t.equal(old.urlForm, 'go')
  const posted = decodeResponse(sample('07d-proxy-response-posted.json'))
  t.strictSame(posted.streamURL, httpUrl('localhost:19999', '/s'))
  t.equal(posted.result.toString(), '{"via":"proxy"}')
  // the provider's response and the hook POST differ only in key order
  const sent = decodeResponse(sample('02e-provider-response-frame-sent.json'))
  t.equal(encodeResponse(sent, 'go').toString(), sample('04a-hook-post-body-capture-result.json').toString())
})

t.test('string URLs, refused by the original, are accepted (SPEC 2.1)', async t => {
  const f = decodeRequest(sample('03f-http-request-string-url.json'))
  t.equal(f.urlForm, 'string')
  t.strictSame(f.responseHook, httpUrl('127.0.0.1:14081', '/hook-f-string'))
  t.equal(encodeRequest(f, 'string').toString(), sample('03f-http-request-string-url.json').toString())
  t.equal(encodeResponse(ackResponse(f.id), 'go').toString(), '{"error":"","id":"cap-f-string","result":null,"streamURL":null}')

  const c = decodeResponse(sample('05c-provider-response-with-string-streamURL.json'))
  t.equal(c.urlForm, 'string')
  t.strictSame(c.streamURL, unixUrl('/run/cerana/CaptureStreamStr/capture-stream-1.sock'))

  // 08c: an internal request with a string hook, acked by the original with id "x"
  const x = decodeRequest(Buffer.from('{"id":"x","task":"CPUInfo","responseHook":"unix:///run/cerana/hooks/x.sock"}'))
  t.equal(x.urlForm, 'string')
  t.strictSame(x.responseHook, unixUrl('/run/cerana/hooks/x.sock'))
  // 07g: a string streamURL posted to /proxy
  t.equal(decodeResponse(Buffer.from('{"id":"p","streamURL":"http://localhost:19999/s"}')).urlForm, 'string')
})

t.test('03g/03h/03l: minimal, lower-case and port-less URL objects are accepted', async t => {
  const g = decodeRequest(sample('03g-http-request-minimal-url-object.json'))
  t.strictSame(g.responseHook, httpUrl('127.0.0.1:14081', '/hook-f-min'))
  t.equal(encodeResponse(ackResponse(g.id), 'go').toString(), httpBody('03g-http-ack-minimal-url-object-accepted.http').toString())
  const h = decodeRequest(sample('03h-http-request-lowercase-url-keys.json'))
  t.strictSame(h.responseHook, httpUrl('127.0.0.1:14081', '/hook-f-lc'))
  t.equal(encodeResponse(ackResponse(h.id), 'go').toString(), httpBody('03h-http-ack-lowercase-url-keys-accepted.http').toString())
  const l = decodeRequest(sample('03l-http-request-hook-without-port.json'))
  t.strictSame(l.responseHook, httpUrl('localhost', '/hook-noport'))
})

t.test('acks are byte-identical to the original acks', async t => {
  t.equal(encodeResponse(ackResponse('cap-a1'), 'go').toString(), httpBody('03a-http-ack-good.http').toString())
  t.equal(encodeResponse(ackResponse(''), 'go').toString(), sample('02e-coordinator-response-socket-ack.json').toString())
  t.equal(encodeResponse(ackResponse(''), 'go').toString(), httpBody('07d-proxy-ack.http').toString())
  t.equal(encodeResponse(ackResponse('cap-b-unknown', 'no providers available for task'), 'go').toString(),
    httpBody('03b-http-ack-unknown-task.http').toString())
  t.equal(encodeResponse(ackResponse('cap-dup', 'request id already tracked'), 'go').toString(),
    sample('03k-http-ack-duplicate-id.json').toString())
})

t.test('refusals produce the original error acks', async t => {
  const truncated = sample('02a-http-request-sent.json').subarray(0, 100)
  t.equal(ackOf(() => decodeRequest(truncated)).toString(), httpBody('03c-http-ack-malformed-truncated-json.http').toString())
  t.equal(ackOf(() => decodeRequest(Buffer.from('hello world'))).toString(), httpBody('03d-http-ack-malformed-not-json.http').toString())
  t.equal(ackOf(() => decodeRequest(Buffer.alloc(0))).toString(), httpBody('03e-http-ack-empty-body.http').toString())
  t.equal(ackOf(() => decodeRequest(Buffer.from('{"task":"CPUInfo"}'))).toString(), sample('03i-http-ack-missing-id.json').toString())
  t.equal(ackOf(() => decodeRequest(Buffer.from('{"id":"cap-notask"}'))).toString(), sample('03j-http-ack-missing-task.json').toString())
  t.equal(ackOf(() => decodeRequest(Buffer.from('garbage'))).toString(), sample('08a-internal-ack-garbage.json').toString())
  t.equal(ackOf(() => decodeRequest(Buffer.from('{"args":1}'))).toString(), sample('08b-internal-ack-missing-id.json').toString())
  t.equal(ackOf(() => decodeResponse(Buffer.from('not json'))).toString(), httpBody('07f-proxy-ack-malformed.http').toString())
})

t.test('every truncation of a sample is ERR_MESSAGE_JSON', async t => {
  const request = sample('02b-http-request-sent.json')
  let refused = 0
  for (let n = 0; n < request.length; n++) {
    try {
      decodeRequest(request.subarray(0, n))
    } catch (err) {
      if ((err as MessageError).code === 'ERR_MESSAGE_JSON') refused++
    }
  }
  t.equal(refused, request.length)
  const response = sample('06a-hook-post-body-StreamEcho-rewritten-streamURL.json')
  refused = 0
  for (let n = 0; n < response.length; n++) {
    try {
      decodeResponse(response.subarray(0, n))
    } catch (err) {
      if ((err as MessageError).code === 'ERR_MESSAGE_JSON') refused++
    }
  }
  t.equal(refused, response.length)
})
