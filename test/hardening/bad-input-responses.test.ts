/**
 * Bad input on the two response ingresses: HTTP `/proxy` and the response unix socket. Each
 * input gets its documented error (status and ack, or ack frame, or close), no tracked
 * request loses its real response, and a valid exchange right after still succeeds.
 */
import t, { type Test } from 'tap'
import { connect } from 'node:net'
import { join } from 'node:path'
import { goUrl, post, startCoordinator } from '../fixtures/coordinator.js'
import { startFakeProvider } from '../fixtures/fake-provider.js'
import { rig } from '../fixtures/hardening-rig.js'
import { startHttpHook } from '../fixtures/hook-sink.js'
import { delay, startHttpServer } from '../fixtures/http-helpers.js'
import { rawPeer, singleFrame } from '../fixtures/net-helpers.js'
import { frame, sendFrame } from '../fixtures/wire.js'

const SETTINGS = { max_body_bytes: 1024 * 1024, max_frame_bytes: 2 * 1024 * 1024, read_timeout: 1, request_timeout: 5 }

interface Case {
  name: string
  body: string | Buffer
  /** status on /proxy; 200 means acked (and then matched or dropped) */
  status: number
  /** the ack's error ('' = accepted) */
  error: string | RegExp
}

const typeError = (field: string, type: string, goType = 'string'): string =>
  `json: cannot unmarshal ${type} into Go struct field Response.${field} of type ${goType}`
const DEEP = '{"a":'.repeat(20_000) + '1' + '}'.repeat(20_000)

const CASES: Case[] = [
  { name: 'invalid JSON', body: '{"id":"x","result":', status: 400, error: 'unexpected end of JSON input' },
  { name: 'not JSON', body: 'ok', status: 400, error: /^invalid character 'o'/ },
  { name: 'an empty body', body: '', status: 400, error: 'unexpected end of JSON input' },
  { name: 'an array', body: '[{"id":"x"}]', status: 400, error: 'json: cannot unmarshal array into Go value of type coordinator.Response' },
  { name: 'a string', body: '"x"', status: 400, error: 'json: cannot unmarshal string into Go value of type coordinator.Response' },
  { name: 'null', body: 'null', status: 400, error: 'json: cannot unmarshal null into Go value of type coordinator.Response' },
  { name: 'id: a number', body: '{"id":1,"error":""}', status: 400, error: typeError('id', 'number') },
  { name: 'id: an object', body: '{"id":{"x":1}}', status: 400, error: typeError('id', 'object') },
  { name: 'error: a number', body: '{"id":"x","error":5}', status: 400, error: typeError('error', 'number') },
  { name: 'error: an array', body: '{"id":"x","error":["no"]}', status: 400, error: typeError('error', 'array') },
  { name: 'streamURL: a number', body: '{"id":"x","streamURL":5}', status: 400, error: typeError('streamURL', 'number', 'url.URL') },
  { name: 'streamURL: a Go object with a numeric Path', body: '{"id":"x","streamURL":{"Scheme":"unix","Path":7}}', status: 400, error: /cannot unmarshal number into Go struct field streamURL\.Path of type string$/ },
  { name: 'result nested 20 000 deep', body: `{"id":"x","result":${DEEP}}`, status: 400, error: 'exceeded max depth' },
  { name: 'invalid UTF-8', body: Buffer.from([...Buffer.from('{"id":"x","error":"'), 0xfe, ...Buffer.from('"}')]), status: 400, error: 'message is not valid UTF-8' },
  { name: 'an ftp streamURL', body: '{"id":"x","streamURL":"ftp://h/x"}', status: 400, error: 'streamURL: unsupported URL scheme "ftp" (want unix, http or https)' },
  { name: 'a streamURL with credentials', body: '{"id":"x","streamURL":"http://u:p@127.0.0.1:1/s"}', status: 400, error: 'streamURL: URLs with credentials (user info) are not supported' },
  { name: 'a relative unix streamURL', body: '{"id":"x","streamURL":"unix:rel.sock"}', status: 400, error: /^streamURL: opaque URL/ },
  { name: 'a streamURL query with a lone surrogate', body: `{"id":"x","streamURL":${JSON.stringify(goUrl('unix', '', '/tmp/s.sock', 'a=\ud800'))}}`, status: 400, error: /^streamURL: invalid character in query/ },
  // well-formed: acked at once, then dropped for want of a tracked request
  { name: 'an unknown id', body: '{"id":"nobody","result":1,"streamURL":null,"error":""}', status: 200, error: '' },
  { name: 'an empty object', body: '{}', status: 200, error: '' },
  { name: 'a 512 KiB id', body: JSON.stringify({ id: 'r'.repeat(512 * 1024), result: null }), status: 200, error: '' },
  { name: 'a 900 KiB result', body: `{"id":"big","result":"${'x'.repeat(900 * 1024)}"}`, status: 200, error: '' }
]

function check (t: Test, c: Case, ack: { error: string, id: string, result: unknown, streamURL: unknown }): void {
  if (typeof c.error === 'string') t.equal(ack.error, c.error, `${c.name}: error`)
  else t.match(ack.error, c.error, `${c.name}: error`)
  t.equal(ack.id, '', `${c.name}: response acks carry an empty id`)
  t.equal(ack.result, null)
  t.equal(ack.streamURL, null)
}

t.test('/proxy: every bad response gets its status and error ack; exchanges go on', async t => {
  const r = await rig(t, SETTINGS)
  for (const c of CASES) {
    const answer = await post(r.c.url('/proxy'), c.body)
    t.equal(answer.status, c.status, `${c.name}: status`)
    check(t, c, JSON.parse(answer.body))
    await r.stillServes()
  }
  await delay(50)
  t.equal(r.hook.delivered.length, CASES.length, 'nothing but the valid exchanges was delivered')
})

t.test('response socket: every bad response gets its error ack frame; exchanges go on', async t => {
  const r = await rig(t, SETTINGS)
  for (const c of CASES) {
    check(t, c, JSON.parse(await sendFrame(r.c.coordinator.addresses.responseSocket, c.body)))
    await r.stillServes()
  }
  await delay(50)
  t.equal(r.hook.delivered.length, CASES.length, 'nothing but the valid exchanges was delivered')
})

t.test('a refused response does not consume the tracked request: the good one that follows is delivered', async t => {
  const c = await startCoordinator(t, SETTINGS)
  const hook = await startHttpHook()
  t.teardown(() => hook.close())
  const provider = await startFakeProvider({ path: join(c.dir, 'Quiet', '1-p.sock'), reply: () => null })
  t.teardown(() => provider.close())
  t.equal((await post(c.url('/'), JSON.stringify({ id: 'keep', task: 'Quiet', responseHook: hook.url() }))).status, 200)
  const socket = c.coordinator.addresses.responseSocket
  // Before the fix, this one was matched and then threw URIError while its stream URL was
  // rewritten: an unhandled rejection, the process gone, the response lost.
  const bad = `{"id":"keep","streamURL":${JSON.stringify(goUrl('unix', '', '/tmp/s.sock', 'x=\udc00'))}}`
  t.match(JSON.parse(await sendFrame(socket, bad)).error, /invalid character in query/)
  t.match(JSON.parse(await sendFrame(socket, '{"id":"keep","error":7}')).error, /cannot unmarshal number/)
  t.equal(c.coordinator.tracker.size, 1, 'still tracked')
  t.equal(JSON.parse(await sendFrame(socket, '{"id":"keep","result":"real","error":""}')).error, '')
  const [delivered] = await hook.waitFor(1)
  t.equal(delivered?.raw, '{"error":"","id":"keep","result":"real","streamURL":null}')
  t.equal(c.coordinator.tracker.size, 0)
})

t.test('a forged response on /proxy cannot steal a provider\'s response, nor one on the socket a peer\'s', async t => {
  const c = await startCoordinator(t, SETTINGS)
  const hook = await startHttpHook()
  t.teardown(() => hook.close())
  const provider = await startFakeProvider({ path: join(c.dir, 'Work', '1-p.sock'), reply: () => ({ result: '"from the provider"', delayMs: 200 }) })
  t.teardown(() => provider.close())
  // a peer coordinator that acks what it is forwarded and answers later through our /proxy
  const forwarded: string[] = []
  const peer = await startHttpServer(t, (req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString()) as { id: string }
      forwarded.push(body.id)
      res.writeHead(200, { 'Content-Type': 'application/json' })
      res.end(`{"error":"","id":${JSON.stringify(body.id)},"result":null,"streamURL":null}`)
    })
  })

  t.equal((await post(c.url('/'), JSON.stringify({ id: 'local', task: 'Work', responseHook: hook.url('/local') }))).status, 200)
  t.equal((await post(c.url('/'), JSON.stringify({ id: 'remote', task: 'Work', taskURL: `${peer.url}/`, responseHook: hook.url('/remote') }))).status, 200)
  t.same(forwarded, ['remote'])

  const forgedHttp = await post(c.url('/proxy'), '{"id":"local","result":"forged","error":""}')
  t.equal(forgedHttp.status, 200, 'acked, as every well-formed response')
  const forgedUnix = await sendFrame(c.coordinator.addresses.responseSocket, '{"id":"remote","result":"forged","error":""}')
  t.equal(JSON.parse(forgedUnix).error, '')
  await delay(50)
  t.equal(c.coordinator.tracker.size, 2, 'both still tracked')

  t.equal((await post(c.url('/proxy'), '{"id":"remote","result":"from the peer","error":""}')).status, 200)
  const delivered = await hook.waitFor(2)
  const byPath = Object.fromEntries(delivered.map(d => [d.path, d.json.result]))
  t.same(byPath, { '/local': 'from the provider', '/remote': 'from the peer' })
  await delay(100)
  t.equal(hook.delivered.length, 2, 'no forged response delivered')
})

t.test('a second response for the same id, and a late one, are acked and dropped', async t => {
  const r = await rig(t, SETTINGS)
  const quiet = await startFakeProvider({ path: join(r.c.dir, 'Quiet', '1-p.sock'), reply: () => null })
  t.teardown(() => quiet.close())
  t.equal((await post(r.c.url('/'), JSON.stringify({ id: 'once', task: 'Quiet', responseHook: r.hook.url() }))).status, 200)
  const socket = r.c.coordinator.addresses.responseSocket
  const answers = await Promise.all([1, 2, 3].map(n => sendFrame(socket, `{"id":"once","result":${n}}`)))
  t.ok(answers.every(a => JSON.parse(a).error === ''), 'each acked')
  await r.hook.waitFor(1)
  await delay(100)
  t.equal(r.hook.delivered.length, 1, 'delivered once')
  await r.stillServes()
})

t.test('response socket: framing faults get the documented ack or close', async t => {
  const r = await rig(t, SETTINGS)
  const path = r.c.coordinator.addresses.responseSocket
  const u32 = (n: number): Buffer => { const b = Buffer.alloc(4); b.writeUInt32BE(n >>> 0, 0); return b }
  const timeoutAck = '{"error":"no full request frame within 1000 ms","id":"","result":null,"streamURL":null}'

  const silent = await rawPeer(path, [Buffer.alloc(0)])
  t.equal(singleFrame(silent.data), timeoutAck, 'a client that says nothing')
  t.ok(silent.ms >= 900 && silent.ms < 2500, `after ${silent.ms} ms`)
  t.equal(singleFrame((await rawPeer(path, [u32(10)])).data), timeoutAck, 'a header alone')
  t.equal(singleFrame((await rawPeer(path, [u32(100), Buffer.from('{"id":')])).data), timeoutAck, 'a frame shorter than declared')
  const huge = await rawPeer(path, [u32(0xffffffff)])
  t.equal(singleFrame(huge.data), '{"error":"frame of 4294967295 bytes exceeds the limit of 2097152 bytes","id":"","result":null,"streamURL":null}')
  const valid = frame('{"id":"nobody","result":null}')
  const split = await rawPeer(path, [valid.subarray(0, 2), valid.subarray(2)], 300)
  t.equal(singleFrame(split.data), '{"error":"","id":"","result":null,"streamURL":null}', 'a header split across writes 300 ms apart')

  const hungUp = await new Promise<number>(resolve => {
    const socket = connect(path, () => {
      socket.write(Buffer.concat([u32(50), Buffer.from('{"id":"')]))
      setTimeout(() => { socket.destroy() }, 20)
    })
    let bytes = 0
    socket.on('data', (chunk: Buffer) => { bytes += chunk.length })
    socket.on('error', () => {})
    socket.on('close', () => { resolve(bytes) })
  })
  t.equal(hungUp, 0, 'a client that hangs up mid-frame: nothing answered')
  await r.stillServes()
})
