/**
 * Bad input on the two request ingresses: HTTP `/` and the internal unix socket. Each input
 * gets its documented error (status and ack, or ack frame, or close), and a valid request
 * sent right after still succeeds end to end.
 */
import t, { type Test } from 'tap'
import { connect } from 'node:net'
import { join } from 'node:path'
import { goUrl, post, startCoordinator } from '../fixtures/coordinator.js'
import { startFakeProvider } from '../fixtures/fake-provider.js'
import { rig } from '../fixtures/hardening-rig.js'
import { delay, rawConnect } from '../fixtures/http-helpers.js'
import { frame, sendFrame } from '../fixtures/wire.js'

// Short limits, so that every refusal is quick to provoke.
const SETTINGS = {
  max_body_bytes: 1024 * 1024,
  max_frame_bytes: 2 * 1024 * 1024,
  headers_timeout: 0.3,
  body_timeout: 0.6,
  read_timeout: 1,
  request_timeout: 5
}

// A request: a JSON body, and what the ack must say.
interface Case {
  name: string
  body: string | Buffer
  status: number
  error: string | RegExp
  /** the id the ack carries (the request's, when it could be read) */
  id?: string
}

const BIG_ID = 'i'.repeat(512 * 1024)
const DEEP = '['.repeat(50_000) + ']'.repeat(50_000)

function cases (hookUrl: string): Case[] {
  const ok = (fields: Record<string, unknown>): string => JSON.stringify({ id: 'bad', task: 'Echo', responseHook: hookUrl, ...fields })
  const typeError = (field: string, type: string, goType = 'string'): RegExp =>
    new RegExp(`^failed to unmarshal request: json: cannot unmarshal ${type} into Go struct field Request\\.${field} of type ${goType.replace('.', '\\.')}$`)
  return [
    // not JSON
    { name: 'invalid JSON', body: '{"id":"x","task":', status: 400, error: /^failed to unmarshal request: unexpected end of JSON input$/ },
    { name: 'not JSON at all', body: 'hello', status: 400, error: /^failed to unmarshal request: invalid character 'h'/ },
    { name: 'an empty body', body: '', status: 400, error: /^failed to unmarshal request: unexpected end of JSON input$/ },
    { name: 'two JSON values', body: '{}{}', status: 400, error: /^failed to unmarshal request: invalid character '\{' after top-level value$/ },
    // valid JSON, wrong shape
    { name: 'an array', body: '[1,2]', status: 400, error: /cannot unmarshal array into Go value of type coordinator\.Request$/ },
    { name: 'a string', body: '"x"', status: 400, error: /cannot unmarshal string into Go value/ },
    { name: 'a number', body: '42', status: 400, error: /cannot unmarshal number into Go value/ },
    { name: 'null', body: 'null', status: 400, error: /cannot unmarshal null into Go value/ },
    { name: 'an object without id', body: '{"task":"Echo"}', status: 400, error: 'missing id' },
    { name: 'an object without task', body: '{"id":"x"}', status: 400, error: 'request missing task', id: 'x' },
    { name: 'empty id and task', body: '{"id":"","task":""}', status: 400, error: 'missing id' },
    // every field with a wrong type
    { name: 'id: a number', body: '{"id":7,"task":"Echo"}', status: 400, error: typeError('id', 'number') },
    { name: 'id: an object', body: '{"id":{},"task":"Echo"}', status: 400, error: typeError('id', 'object') },
    { name: 'id: an array', body: '{"id":[],"task":"Echo"}', status: 400, error: typeError('id', 'array') },
    { name: 'id: a boolean', body: '{"id":true,"task":"Echo"}', status: 400, error: typeError('id', 'bool') },
    { name: 'task: a number', body: '{"id":"x","task":1}', status: 400, error: typeError('task', 'number'), id: 'x' },
    { name: 'taskURL: a number', body: ok({ taskURL: 1 }), status: 400, error: typeError('taskURL', 'number', 'url.URL'), id: 'bad' },
    { name: 'taskURL: an array', body: ok({ taskURL: [] }), status: 400, error: typeError('taskURL', 'array', 'url.URL'), id: 'bad' },
    { name: 'responseHook: a boolean', body: ok({ responseHook: true }), status: 400, error: typeError('responseHook', 'bool', 'url.URL'), id: 'bad' },
    { name: 'streamURL: a number', body: ok({ streamURL: 5 }), status: 400, error: typeError('streamURL', 'number', 'url.URL'), id: 'bad' },
    { name: 'a URL object member of the wrong type', body: ok({ responseHook: { Scheme: 1 } }), status: 400, error: /cannot unmarshal number into Go struct field responseHook\.Scheme of type string$/, id: 'bad' },
    { name: 'a URL object with a bad OmitHost', body: ok({ responseHook: { Scheme: 'http', OmitHost: 'yes' } }), status: 400, error: /OmitHost of type bool$/, id: 'bad' },
    // huge and deep
    { name: 'a 512 KiB id (no such task)', body: JSON.stringify({ id: BIG_ID, task: 'Nope' }), status: 404, error: 'no providers available for task', id: BIG_ID },
    { name: 'a task name of 300 bytes', body: JSON.stringify({ id: 'x', task: 't'.repeat(300) }), status: 400, error: /^invalid task name "t+": longer than 255 bytes$/, id: 'x' },
    { name: 'args nested 50 000 deep', body: `{"id":"x","task":"Echo","args":${DEEP}}`, status: 400, error: 'failed to unmarshal request: exceeded max depth' },
    // not UTF-8
    { name: 'invalid UTF-8 (0xff)', body: Buffer.from([...Buffer.from('{"id":"x'), 0xff, ...Buffer.from('","task":"Echo"}')]), status: 400, error: 'failed to unmarshal request: message is not valid UTF-8' },
    { name: 'an overlong encoding of "/"', body: Buffer.from([...Buffer.from('{"id":"x","task":"a'), 0xc0, 0xaf, ...Buffer.from('b"}')]), status: 400, error: 'failed to unmarshal request: message is not valid UTF-8' },
    { name: 'a UTF-8 encoded surrogate', body: Buffer.from([...Buffer.from('{"id":"'), 0xed, 0xa0, 0x80, ...Buffer.from('","task":"Echo"}')]), status: 400, error: 'failed to unmarshal request: message is not valid UTF-8' },
    // path traversal and the coordinator's own directories
    { name: 'task ".."', body: '{"id":"x","task":".."}', status: 400, error: 'invalid task name "..": a relative directory', id: 'x' },
    { name: 'task "."', body: '{"id":"x","task":"."}', status: 400, error: 'invalid task name ".": a relative directory', id: 'x' },
    { name: 'task "a/../../coordinator"', body: '{"id":"x","task":"a/../../coordinator"}', status: 400, error: 'invalid task name "a/../../coordinator": contains "/"', id: 'x' },
    { name: 'task "/etc"', body: '{"id":"x","task":"/etc"}', status: 400, error: 'invalid task name "/etc": contains "/"', id: 'x' },
    { name: 'task with NUL', body: '{"id":"x","task":"Echo\\u0000.sock"}', status: 400, error: 'invalid task name "Echo\\u0000.sock": contains NUL', id: 'x' },
    { name: 'task "coordinator" (its own request socket: a loop)', body: '{"id":"x","task":"coordinator"}', status: 400, error: /^invalid task name "coordinator": reserved/, id: 'x' },
    { name: 'task "response" (its own response socket)', body: ok({ task: 'response' }), status: 400, error: /^invalid task name "response": reserved/, id: 'bad' },
    { name: 'task "streams" (one-shot stream sockets)', body: ok({ task: 'streams' }), status: 400, error: /^invalid task name "streams": reserved/, id: 'bad' },
    // URLs
    { name: 'an ftp hook', body: ok({ responseHook: 'ftp://127.0.0.1/x' }), status: 400, error: 'responseHook: unsupported URL scheme "ftp" (want unix, http or https)', id: 'bad' },
    { name: 'a file taskURL', body: ok({ taskURL: 'file:///etc/passwd' }), status: 400, error: /^taskURL: unsupported URL scheme "file"/, id: 'bad' },
    { name: 'a javascript: stream', body: ok({ streamURL: 'javascript:alert(1)' }), status: 400, error: /^streamURL: unsupported URL scheme "javascript"/, id: 'bad' },
    { name: 'a Go object with scheme tcp', body: ok({ responseHook: goUrl('tcp', '127.0.0.1:1', '') }), status: 400, error: /^responseHook: unsupported URL scheme "tcp"/, id: 'bad' },
    { name: 'a URL without scheme', body: ok({ responseHook: '/just/a/path' }), status: 400, error: /^responseHook: missing protocol scheme/, id: 'bad' },
    { name: 'a hook with credentials', body: ok({ responseHook: 'http://user:secret@127.0.0.1:1/h' }), status: 400, error: 'responseHook: URLs with credentials (user info) are not supported', id: 'bad' },
    { name: 'a stream with credentials', body: ok({ streamURL: 'https://a@127.0.0.1/s' }), status: 400, error: 'streamURL: URLs with credentials (user info) are not supported', id: 'bad' },
    { name: 'a hook with port 0', body: ok({ responseHook: 'http://127.0.0.1:0/h' }), status: 400, error: /^responseHook: port 0 is out of range/, id: 'bad' },
    { name: 'a unix hook with a host', body: ok({ responseHook: 'unix://host/x.sock' }), status: 400, error: /^responseHook: a unix URL has no host/, id: 'bad' },
    { name: 'a unix stream with NUL', body: ok({ streamURL: goUrl('unix', '', '/tmp/a\u0000b') }), status: 400, error: 'streamURL: socket path contains NUL', id: 'bad' },
    { name: 'a Go object query with a "#"', body: ok({ streamURL: goUrl('http', '127.0.0.1:1', '/s', 'a=1#x') }), status: 400, error: /^streamURL: invalid character in query/, id: 'bad' },
    { name: 'a Go object query with a lone surrogate', body: ok({ streamURL: goUrl('http', '127.0.0.1:1', '/s', 'a=\ud800') }), status: 400, error: /^streamURL: invalid character in query/, id: 'bad' },
    { name: 'a control character in a hook', body: ok({ responseHook: 'http://127.0.0.1:1/a\tb' }), status: 400, error: /^responseHook: invalid control character in URL/, id: 'bad' }
  ]
}

function check (t: Test, c: Case, error: string, id: string): void {
  if (typeof c.error === 'string') t.equal(error, c.error, `${c.name}: error`)
  else t.match(error, c.error, `${c.name}: error`)
  t.equal(id, c.id ?? '', `${c.name}: ack id`)
}

t.test('HTTP /: every bad request gets its status and error ack; the next one succeeds', async t => {
  const r = await rig(t, SETTINGS)
  for (const c of cases(r.hook.url())) {
    const answer = await post(r.c.url('/'), c.body)
    t.equal(answer.status, c.status, `${c.name}: status`)
    t.equal(answer.headers['content-type'], 'application/json', `${c.name}: a JSON ack`)
    const ack = JSON.parse(answer.body) as { error: string, id: string, result: unknown, streamURL: unknown }
    check(t, c, ack.error, ack.id)
    t.equal(ack.result, null)
    await r.stillServes()
  }
  t.equal(r.provider.received.filter(raw => !raw.includes('"ok-')).length, 0, 'no bad request reached the provider')
  t.equal(r.c.coordinator.tracker.size, 0, 'nothing left tracked')
})

t.test('internal socket: every bad request gets its error ack frame; the next one succeeds', async t => {
  const r = await rig(t, SETTINGS)
  const path = r.c.coordinator.addresses.requestSocket
  for (const c of cases(r.hook.url())) {
    const ack = JSON.parse(await sendFrame(path, c.body)) as { error: string, id: string }
    check(t, c, ack.error, ack.id)
    await r.stillServes()
  }
  t.equal(r.c.coordinator.tracker.size, 0, 'nothing left tracked')
})

t.test('a request without a hook is dispatched untracked, over both ingresses (the original crashed)', async t => {
  const r = await rig(t, SETTINGS)
  const http = await post(r.c.url('/'), '{"id":"nohook-1","task":"Echo"}')
  t.equal(http.status, 200)
  t.equal(http.body, '{"error":"","id":"nohook-1","result":null,"streamURL":null}')
  const unix = await sendFrame(r.c.coordinator.addresses.requestSocket, '{"id":"nohook-2","task":"Echo","responseHook":null}')
  t.equal(unix, '{"error":"","id":"nohook-2","result":null,"streamURL":null}')
  const sent = r.provider.received.map(raw => JSON.parse(raw) as { id: string, responseHook: unknown })
  t.same(sent.map(s => [s.id, s.responseHook]), [['nohook-1', null], ['nohook-2', null]], 'the provider got them with no hook')
  t.equal(r.c.coordinator.tracker.size, 0, 'not tracked')
  await r.stillServes()
})

t.test('a duplicate id is refused across ingresses; the first keeps its tracking and its response', async t => {
  const r = await rig(t, SETTINGS)
  const slow = await startFakeProvider({ path: join(r.c.dir, 'Slow', '1-p.sock'), reply: () => ({ result: '"first"', delayMs: 300 }) })
  t.teardown(() => slow.close())
  const body = JSON.stringify({ id: 'dup', task: 'Slow', responseHook: r.hook.url('/first') })
  t.equal((await post(r.c.url('/'), body)).status, 200)
  const again = JSON.stringify({ id: 'dup', task: 'Slow', responseHook: r.hook.url('/second') })
  t.equal(JSON.parse(await sendFrame(r.c.coordinator.addresses.requestSocket, again)).error, 'request id already tracked')
  const http = await post(r.c.url('/'), again)
  t.equal(http.status, 400)
  t.equal(JSON.parse(http.body).error, 'request id already tracked')
  const [first] = await r.hook.waitFor(1)
  t.equal(first?.path, '/first')
  t.equal(first?.json.result, 'first')
  t.equal(slow.received.length, 1, 'the duplicates never reached a provider')
  await delay(100)
  t.equal(r.hook.delivered.filter(d => d.path === '/second').length, 0, 'nothing went to the duplicate\'s hook')
})

// ---------------------------------------------------------------------------------------
// HTTP transport faults: raw bytes on a TCP connection

t.test('HTTP: a client that connects and says nothing gets 408 after headers_timeout and is closed', async t => {
  const r = await rig(t, SETTINGS)
  const started = Date.now()
  const client = await rawConnect(t, r.c.coordinator.addresses.httpPort)
  const text = await client.closed
  const ms = Date.now() - started
  t.match(text, /^HTTP\/1\.1 408 Request Timeout\r\n/)
  t.ok(ms >= 250 && ms < 1500, `closed after ${ms} ms (headers_timeout 300 ms)`)
  await r.stillServes()
})

t.test('HTTP: headers that never end (slowloris) get 408 after headers_timeout', async t => {
  const r = await rig(t, SETTINGS)
  const client = await rawConnect(t, r.c.coordinator.addresses.httpPort)
  const started = Date.now()
  client.socket.write('POST / HTTP/1.1\r\nHost: x\r\n')
  const timer = setInterval(() => { client.socket.write('X-Slow: 1\r\n') }, 100)
  t.teardown(() => { clearInterval(timer) })
  const text = await client.closed
  clearInterval(timer)
  const ms = Date.now() - started
  t.match(text, /^HTTP\/1\.1 408 Request Timeout\r\n/)
  t.ok(ms < 1500, `closed after ${ms} ms although a header line came every 100 ms`)
  await r.stillServes()
})

t.test('HTTP: headers split across writes 300 ms apart are still served', async t => {
  const r = await rig(t, SETTINGS)
  const client = await rawConnect(t, r.c.coordinator.addresses.httpPort)
  const body = '{"id":"split","task":"Echo"}'
  client.socket.write('POST / HTTP/1.1\r\nHo')
  await delay(100)
  client.socket.write(`st: x\r\nContent-Length: ${body.length}\r`)
  await delay(100)
  client.socket.write(`\n\r\n${body}`)
  const text = await client.waitFor('"id":"split"')
  t.match(text, /^HTTP\/1\.1 200 OK\r\n/)
  await r.stillServes()
})

t.test('HTTP: a body that stops short gets 408 after body_timeout; one cut off closes quietly', async t => {
  const r = await rig(t, SETTINGS)
  const slow = await rawConnect(t, r.c.coordinator.addresses.httpPort)
  slow.socket.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"id":"slow"')
  const text = await slow.closed
  t.match(text, /^HTTP\/1\.1 408 Request Timeout\r\n/)
  t.match(text, /Connection: close\r\n/)
  t.match(text, /"error":"request body not received within 600 ms \(12 B read\)"/)

  const cut = await rawConnect(t, r.c.coordinator.addresses.httpPort)
  cut.socket.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"id":"cut"')
  await delay(50)
  cut.socket.destroy()
  await r.stillServes()
  t.equal(r.provider.received.filter(raw => raw.includes('"cut"') || raw.includes('"slow"')).length, 0)
})

t.test('HTTP: a body over max_body_bytes is 413, declared or chunked, and the connection closes', async t => {
  const r = await rig(t, SETTINGS)
  const declared = await rawConnect(t, r.c.coordinator.addresses.httpPort)
  declared.socket.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n{"id":')
  const text = await declared.closed
  t.match(text, /^HTTP\/1\.1 413 Payload Too Large\r\n/)
  t.match(text, /"error":"request body declares 2000000 B, limit 1048576 B"/)

  const chunked = await rawConnect(t, r.c.coordinator.addresses.httpPort)
  chunked.socket.write('POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n')
  const piece = 'x'.repeat(64 * 1024)
  // 17 chunks of 64 KiB pass 1 MiB; the refusal comes while the client is still sending
  for (let i = 0; i < 17 && !chunked.socket.destroyed; i++) {
    chunked.socket.write(`${piece.length.toString(16)}\r\n${piece}\r\n`)
    await delay(5)
  }
  const refused = await chunked.closed
  t.match(refused, /^HTTP\/1\.1 413 Payload Too Large\r\n/)
  t.match(refused, /"error":"request body exceeds \d+ B, limit 1048576 B"/)
  await r.stillServes()
})

t.test('HTTP: Expect: 100-continue with an oversized Content-Length gets 413 and no 100', async t => {
  const r = await rig(t, SETTINGS)
  const big = await rawConnect(t, r.c.coordinator.addresses.httpPort)
  big.socket.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5000000\r\nExpect: 100-continue\r\n\r\n')
  const text = await big.closed
  t.notMatch(text, /100 Continue/, 'never invited to send the body')
  t.match(text, /^HTTP\/1\.1 413 Payload Too Large\r\n/)
  t.match(text, /"error":"request body declares 5000000 B, limit 1048576 B"/)

  // Within the limit: 100 Continue, then the body, then the ack.
  const body = '{"id":"cont","task":"Echo"}'
  const small = await rawConnect(t, r.c.coordinator.addresses.httpPort)
  small.socket.write(`POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\nExpect: 100-continue\r\n\r\n`)
  await small.waitFor('HTTP/1.1 100 Continue\r\n\r\n')
  small.socket.write(body)
  const answered = await small.waitFor('"id":"cont"')
  t.match(answered, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 OK\r\n/)
  await r.stillServes()
})

t.test('HTTP: an idle keep-alive connection is closed after keep_alive_timeout', async t => {
  const c = await startCoordinator(t, { keep_alive_timeout: 0.2 })
  const client = await rawConnect(t, c.coordinator.addresses.httpPort)
  const started = Date.now()
  client.socket.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}')
  await client.waitFor('"error":"missing id"')
  await client.closed
  const ms = Date.now() - started
  // node:http adds one second to the keep-alive timeout for clients racing it (node 20.x)
  t.ok(ms >= 150 && ms < 2500, `idle connection closed after ${ms} ms`)
})

t.test('HTTP: a header block over node\'s 16 KiB limit is refused with 400, the next request served', async t => {
  const r = await rig(t, SETTINGS)
  const client = await rawConnect(t, r.c.coordinator.addresses.httpPort)
  client.socket.write(`POST / HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(20_000)}\r\nContent-Length: 2\r\n\r\n{}`)
  const text = await client.closed
  t.match(text, /^HTTP\/1\.1 400 Bad Request\r\n/)
  await r.stillServes()
})

t.test('HTTP: garbage instead of HTTP is 400 and closed', async t => {
  const r = await rig(t, SETTINGS)
  const client = await rawConnect(t, r.c.coordinator.addresses.httpPort)
  client.socket.write(Buffer.from([0x16, 0x03, 0x01, 0x00, 0xff, 0x01, 0x00, 0x00, 0x00, 0x0d, 0x0a, 0x0d, 0x0a]))
  t.match(await client.closed, /^HTTP\/1\.1 400 Bad Request\r\n/)
  await r.stillServes()
})

// ---------------------------------------------------------------------------------------
// Unix transport faults on the internal request socket (read_timeout 1 s)

interface UnixResult {
  /** the answer frame's payload, if a whole one came */
  answer: string | undefined
  /** every byte received */
  bytes: number
  ms: number
}

/** Writes `steps` (bytes, or a pause in ms), optionally hangs up, and collects the answer until close. */
function unixConversation (path: string, steps: Array<Buffer | number>, hangUp = false): Promise<UnixResult> {
  return new Promise((resolve, reject) => {
    const started = Date.now()
    const socket = connect(path)
    const chunks: Buffer[] = []
    const timer = setTimeout(() => { socket.destroy(); reject(new Error('no close within 5 s')) }, 5000)
    socket.on('data', (c: Buffer) => chunks.push(c))
    socket.on('error', () => {})
    socket.on('close', () => {
      clearTimeout(timer)
      const all = Buffer.concat(chunks)
      const len = all.length >= 4 ? all.readUInt32BE(0) : -1
      const answer = len >= 0 && all.length >= 4 + len ? all.subarray(4, 4 + len).toString() : undefined
      resolve({ answer, bytes: all.length, ms: Date.now() - started })
    })
    socket.once('connect', () => {
      void (async () => {
        for (const step of steps) {
          if (typeof step === 'number') await delay(step)
          else if (!socket.destroyed) socket.write(step)
        }
        if (hangUp) socket.destroy()
      })()
    })
  })
}

function u32 (n: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(n >>> 0, 0)
  return b
}

t.test('internal socket: framing faults get the documented ack or close; the process keeps serving', async t => {
  const r = await rig(t, SETTINGS)
  const path = r.c.coordinator.addresses.requestSocket
  const valid = frame('{"id":"framed","task":"Echo"}')
  const readTimeout = '{"error":"no full request frame within 1000 ms","id":"","result":null,"streamURL":null}'

  const silent = await unixConversation(path, [])
  t.equal(silent.answer, readTimeout, 'a client that says nothing: read timeout ack')
  t.ok(silent.ms >= 900 && silent.ms < 2500, `after ${silent.ms} ms`)

  const headerOnly = await unixConversation(path, [u32(20)])
  t.equal(headerOnly.answer, readTimeout, 'a header alone: read timeout ack')

  const short = await unixConversation(path, [u32(100), Buffer.from('{"id":"short"')])
  t.equal(short.answer, readTimeout, 'a frame shorter than declared: read timeout ack')

  const cut = await unixConversation(path, [u32(100), Buffer.from('{"id":"cut"'), 20], true)
  t.equal(cut.bytes, 0, 'a client that hangs up mid-frame: closed, nothing answered')

  const halfClosed = await new Promise<number>(resolve => {
    const socket = connect(path, () => { socket.end(Buffer.concat([u32(100), Buffer.from('{"id":')])) })
    let bytes = 0
    socket.on('data', (c: Buffer) => { bytes += c.length })
    socket.on('error', () => {})
    socket.on('close', () => { resolve(bytes) })
  })
  t.equal(halfClosed, 0, 'a client that ends its side mid-frame: closed quietly')

  const huge = await unixConversation(path, [u32(0xffffffff)])
  t.equal(huge.answer, '{"error":"frame of 4294967295 bytes exceeds the limit of 2097152 bytes","id":"","result":null,"streamURL":null}')
  t.ok(huge.ms < 900, `refused at the header, after ${huge.ms} ms, not at the read timeout`)

  const over = await unixConversation(path, [u32(2 * 1024 * 1024 + 1), Buffer.alloc(1000, 0x20)])
  t.equal(over.answer, '{"error":"frame of 2097153 bytes exceeds the limit of 2097152 bytes","id":"","result":null,"streamURL":null}')

  const empty = await unixConversation(path, [u32(0)])
  t.equal(empty.answer, '{"error":"failed to unmarshal request: unexpected end of JSON input","id":"","result":null,"streamURL":null}', 'a zero-length frame: an empty message')

  const split = await unixConversation(path, [valid.subarray(0, 2), 300, valid.subarray(2, 3), 300, valid.subarray(3)])
  t.equal(split.answer, '{"error":"","id":"framed","result":null,"streamURL":null}', 'a header split across writes 300 ms apart is served')

  const trailing = await unixConversation(path, [Buffer.concat([valid, u32(0xffffffff), Buffer.from('junk')])])
  t.equal(trailing.answer, '{"error":"","id":"framed","result":null,"streamURL":null}', 'bytes after the one frame are ignored')

  await r.stillServes()
  t.equal(r.c.coordinator.tracker.size, 0)
})

t.test('internal socket: 50 stalled clients do not delay a valid exchange', async t => {
  const r = await rig(t, SETTINGS)
  const path = r.c.coordinator.addresses.requestSocket
  const stalled = Array.from({ length: 50 }, () => unixConversation(path, [u32(100)]))
  const started = Date.now()
  const ack = await sendFrame(path, '{"id":"among-stalled","task":"Echo"}')
  t.equal(ack, '{"error":"","id":"among-stalled","result":null,"streamURL":null}')
  t.ok(Date.now() - started < 900, 'answered before the stalled ones even timed out')
  const results = await Promise.all(stalled)
  t.ok(results.every(s => s.answer?.includes('no full request frame')), 'each stalled client got its read timeout')
})
