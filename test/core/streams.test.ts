import t from 'tap'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { formatUrl, goUrlJson, parseUrlString, unixUrl } from '../../src/core/go-url.js'
import { StreamProxy, type StreamProxyOptions } from '../../src/core/streams.js'
import { startCoordinator, post, goUrl } from '../fixtures/coordinator.js'
import { startFakeProvider } from '../fixtures/fake-provider.js'
import { startHttpHook } from '../fixtures/hook-sink.js'
import { delay, startHttpServer } from '../fixtures/http-helpers.js'
import { sockDir } from '../fixtures/net-helpers.js'

const SAMPLES = '/work/shared/wire-samples'
const sample = (name: string): string => readFileSync(join(SAMPLES, name), 'utf8').trim()

function proxy (t: { teardown (fn: () => unknown): void }, opts: Partial<StreamProxyOptions> = {}): StreamProxy {
  const p = new StreamProxy({
    baseUrl: () => parseUrlString('http://localhost:18080'),
    ttlMs: 5000,
    socketDir: '/nonexistent/streams',
    maxSockets: 4,
    maxIssued: 100,
    sourceTimeoutMs: 500,
    ...opts
  })
  t.teardown(() => p.close())
  return p
}

t.test('proxyUrl: the original\'s /stream URL shape (06a, 06b)', async t => {
  const p = proxy(t)
  const echo = p.proxyUrl(unixUrl('/run/cerana/streams/StreamEcho/provider-simple/2266111808.sock'))
  t.equal(goUrlJson(echo), JSON.stringify(JSON.parse(sample('06a-hook-post-body-StreamEcho-rewritten-streamURL.json')).streamURL))
  const capture = p.proxyUrl(unixUrl('/run/cerana/CaptureStream/capture-stream-1.sock'))
  t.equal(goUrlJson(capture), JSON.stringify(JSON.parse(sample('06b-hook-post-body-capture-rewritten-streamURL.json')).streamURL))
  t.equal(formatUrl(capture), 'http://localhost:18080/stream?addr=unix%3A%2F%2F%2Frun%2Fcerana%2FCaptureStream%2Fcapture-stream-1.sock')
})

t.test('issued addresses: live until their expiry, re-issuing renews, the registry is bounded', async t => {
  const p = proxy(t, { ttlMs: 80, maxIssued: 3 })
  const [a, b, c, d] = ['unix:///s/a.sock', 'unix:///s/b.sock', 'http://10.0.0.1:1/c', 'https://h/d?x=1']
    .map(s => parseUrlString(s)) as [ReturnType<typeof parseUrlString>, ReturnType<typeof parseUrlString>, ReturnType<typeof parseUrlString>, ReturnType<typeof parseUrlString>]
  t.notOk(p.isIssued(formatUrl(a)))
  p.proxyUrl(a)
  p.proxyUrl(b)
  p.proxyUrl(c)
  t.ok(p.isIssued('unix:///s/a.sock'))
  p.proxyUrl(a) // renewed: now the newest
  p.proxyUrl(d) // full: the oldest (b) goes
  t.equal(p.issuedCount, 3)
  t.equal(p.stats.evicted, 1)
  t.notOk(p.isIssued('unix:///s/b.sock'), 'the oldest was forgotten')
  t.ok(p.isIssued('unix:///s/a.sock'), 'the renewed one was kept')
  t.ok(p.isIssued('https://h/d?x=1'))
  await delay(120)
  t.notOk(p.isIssued('unix:///s/a.sock'), 'expired')
  t.equal(p.issuedCount, 0, 'expired entries are pruned on the next look, without timers')
})

t.test('open(): 400 for a missing or unparsable addr, 403 for one never issued, 502 for one that is gone', async t => {
  const dir = sockDir(t)
  const p = proxy(t)
  await t.rejects(p.open(null), { code: 'ERR_STREAM_ADDR_INVALID', message: 'invalid addr' })
  await t.rejects(p.open(''), { code: 'ERR_STREAM_ADDR_INVALID' })
  await t.rejects(p.open('notaurl'), { code: 'ERR_STREAM_ADDR_INVALID' })
  await t.rejects(p.open('unix:///etc/passwd'), { code: 'ERR_STREAM_FORBIDDEN' })
  t.equal(p.stats.refused, 1)
  const gone = join(dir, 'gone.sock')
  p.proxyUrl(unixUrl(gone))
  await t.rejects(p.open(`unix://${gone}`), { code: 'ERR_STREAM_SOURCE', message: 'failed to stream data' })
  t.equal(p.stats.failed, 1)
  // The same address written another way (upper-case scheme) is the same address.
  await t.rejects(p.open(`UNIX://${gone}`), { code: 'ERR_STREAM_SOURCE' })
})

t.test('serveRequestStream: unix sources pass, the socket limit holds, release and close remove sockets', async t => {
  const dir = join(sockDir(t), 'streams')
  const p = proxy(t, { socketDir: dir, maxSockets: 2, ttlMs: 60_000 })
  const local = unixUrl('/run/x.sock')
  t.equal(await p.serveRequestStream(local, 'u'), local, 'a unix stream needs no proxy')
  const source = parseUrlString('http://127.0.0.1:9/data')
  const one = await p.serveRequestStream(source, 'r1')
  const two = await p.serveRequestStream(source, 'r2')
  t.equal(one.scheme, 'unix')
  t.match(one.path, new RegExp(`^${dir}/[0-9a-f]{16}\\.sock$`))
  t.ok(existsSync(one.path) && existsSync(two.path))
  t.equal(p.openSockets, 2)
  await t.rejects(p.serveRequestStream(source, 'r3'), { code: 'ERR_OVERLOADED' })
  t.equal(p.stats.refused, 1)
  p.release(one)
  p.release(parseUrlString('http://x/')) // not ours: ignored
  for (let i = 0; i < 100 && (existsSync(one.path) || p.openSockets !== 1); i++) await delay(10)
  t.notOk(existsSync(one.path), 'released')
  t.equal(p.openSockets, 1)
  await p.close()
  t.notOk(existsSync(two.path), 'closed')
  t.same(readdirSync(dir), [])
  await t.rejects(p.serveRequestStream(source, 'r4'), { code: 'ERR_SHUTTING_DOWN' })
})

t.test('serveRequestStream: a socket that cannot be created is ERR_STREAM_SOCKET and frees its slot', async t => {
  const p = proxy(t, { socketDir: join(sockDir(t), 'x'.repeat(100)), maxSockets: 1 })
  await t.rejects(p.serveRequestStream(parseUrlString('http://127.0.0.1:9/'), 'long'), {
    code: 'ERR_STREAM_SOCKET', message: /cannot create a stream socket: socket path is \d+ bytes/
  })
  t.equal(p.openSockets, 0)
})

t.test('a provider\'s unix streamURL reaches the hook rewritten exactly as the original did (06a, 06b)', async t => {
  const c = await startCoordinator(t)
  const port = c.coordinator.addresses.httpPort
  const hook = await startHttpHook()
  t.teardown(() => hook.close())
  const cases = [
    { id: 'cap-e-echo', file: '06a-hook-post-body-StreamEcho-rewritten-streamURL.json', stream: goUrl('unix', '', '/run/cerana/streams/StreamEcho/provider-simple/2266111808.sock') },
    { id: 'cap-CaptureStream', file: '06b-hook-post-body-capture-rewritten-streamURL.json', stream: JSON.parse(sample('06b-provider-response-with-unix-streamURL.json')).streamURL }
  ]
  const provider = await startFakeProvider({
    path: join(c.dir, 'StreamTask', '10-capture.sock'),
    reply: request => ({ streamURL: JSON.stringify(cases.find(k => k.id === request.id)?.stream) })
  })
  t.teardown(() => provider.close())
  for (const [i, k] of cases.entries()) {
    const answer = await post(c.url('/'), JSON.stringify({ id: k.id, task: 'StreamTask', responseHook: goUrl('http', `127.0.0.1:${hook.port}`, '/h') }))
    t.equal(answer.status, 200)
    const delivered = await hook.waitFor(i + 1)
    t.equal(delivered[i]?.raw, sample(k.file).replace('localhost:18080', `localhost:${port}`))
  }
})

t.test('stream_base_url sets the base of the URLs handed out', async t => {
  const c = await startCoordinator(t, { stream_base_url: 'https://coord.example:8443/edge/' })
  const hook = await startHttpHook()
  t.teardown(() => hook.close())
  const provider = await startFakeProvider({
    path: join(c.dir, 'S', '10-p.sock'),
    reply: () => ({ streamURL: '"unix:///run/p/out.sock"' })
  })
  t.teardown(() => provider.close())
  await post(c.url('/'), JSON.stringify({ id: 'b1', task: 'S', responseHook: `http://127.0.0.1:${hook.port}/h` }))
  const [delivered] = await hook.waitFor(1)
  t.equal(delivered?.json.streamURL, 'https://coord.example:8443/edge/stream?addr=unix%3A%2F%2F%2Frun%2Fp%2Fout.sock')
})

t.test('taskURL forwarding hands the stream on as our /stream URL (07c); a response back through /proxy is rewritten (07e)', async t => {
  const c = await startCoordinator(t)
  const port = c.coordinator.addresses.httpPort
  const hook = await startHttpHook()
  t.teardown(() => hook.close())
  const forwarded: string[] = []
  const remote = await startHttpServer(t, (req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (b: Buffer) => chunks.push(b))
    req.on('end', () => {
      forwarded.push(Buffer.concat(chunks).toString())
      res.writeHead(200, { 'Content-Type': 'application/json' })
      res.end('{"error":"","id":"cap-g-ext","result":null,"streamURL":null}')
    })
  })
  const request = JSON.parse(sample('07a-http-request-with-taskURL.json'))
  request.id = 'cap-g-ext'
  request.taskURL = goUrl('http', `127.0.0.1:${remote.port}`, '/ext-task')
  request.responseHook = goUrl('http', `127.0.0.1:${hook.port}`, '/hook-g-ext2')
  request.streamURL = goUrl('http', '127.0.0.1:14081', '/data')
  const answer = await post(c.url('/'), JSON.stringify(request))
  t.equal(answer.status, 200)
  const sent = JSON.parse(forwarded[0] ?? '{}')
  const expected = JSON.parse(sample('07c-external-task-post-body-with-streamURL.json').replaceAll('localhost:18080', `localhost:${port}`))
  t.same(sent.streamURL, expected.streamURL, 'the forwarded stream is our /stream URL')
  t.ok(c.coordinator.streams.isIssued('http://127.0.0.1:14081/data'), 'and its source is servable')

  // The remote coordinator answers through /proxy, as in 07d.
  const response = sample('07d-proxy-response-posted.json').replace('cap-g-ext2', 'cap-g-ext')
  const ack = await post(c.url('/proxy'), response)
  t.equal(ack.status, 200)
  const [delivered] = await hook.waitFor(1)
  t.equal(delivered?.raw, sample('07e-hook-post-body-forwarded-from-proxy.json')
    .replace('cap-g-ext2', 'cap-g-ext').replace('localhost:18080', `localhost:${port}`))
  t.ok(c.coordinator.streams.isIssued('http://127.0.0.1:19999/s'))
})
