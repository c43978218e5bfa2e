/**
 * Faults of the coordinator's peers (providers, hooks, stream sources, a rival coordinator):
 * each bounded in time, confined to the request it concerns, and visible in logs and counts.
 */
import t, { type Test } from 'tap'
import { existsSync, mkdirSync, readdirSync } from 'node:fs'
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http'
import { connect, createServer, type Server, type Socket } from 'node:net'
import { dirname, join } from 'node:path'
import { buildConfig } from '../../src/core/config.js'
import { Coordinator } from '../../src/core/coordinator.js'
import { createLogger } from '../../src/core/log.js'
import { goUrl, post, startCoordinator } from '../fixtures/coordinator.js'
import { startFakeProvider } from '../fixtures/fake-provider.js'
import { startHttpHook } from '../fixtures/hook-sink.js'
import { delay, freePort, holdOpen, startHttpServer } from '../fixtures/http-helpers.js'
import { makeStaleSocket } from '../fixtures/net-helpers.js'
import { frame, onFrames, sendFrame, unixPathOf } from '../fixtures/wire.js'

/** A logger whose JSON lines are kept. */
function capturingLogger (): { log: ReturnType<typeof createLogger>, lines: () => Array<Record<string, unknown>> } {
  const lines: string[] = []
  const log = createLogger('info', { write: (s: string) => lines.push(s) })
  return { log, lines: () => lines.map(l => JSON.parse(l) as Record<string, unknown>) }
}

/** A provider that accepts connections and reads frames but never acks; records each close. */
async function silentProvider (t: Test, path: string): Promise<{ frames: () => number, closes: () => number }> {
  let frames = 0
  let closes = 0
  mkdirSync(dirname(path), { recursive: true })
  const server: Server = createServer(socket => {
    socket.on('error', () => {})
    socket.on('close', () => { closes++ })
    onFrames(socket, () => { frames++ })
  })
  await new Promise<void>(resolve => server.listen(path, resolve))
  t.teardown(() => new Promise<void>(resolve => server.close(() => { resolve() })))
  return { frames: () => frames, closes: () => closes }
}

t.test('a provider that accepts and never acks: failover after dispatch_timeout, its connection closed', async t => {
  const c = await startCoordinator(t, { dispatch_timeout: 0.3 })
  const silent = await silentProvider(t, join(c.dir, 'Hang', '1-silent.sock'))
  const good = await startFakeProvider({ path: join(c.dir, 'Hang', '2-good.sock') })
  t.teardown(() => good.close())
  const started = Date.now()
  const ack = await sendFrame(c.coordinator.addresses.requestSocket, '{"id":"h1","task":"Hang"}')
  const ms = Date.now() - started
  t.equal(ack, '{"error":"","id":"h1","result":null,"streamURL":null}')
  t.ok(ms >= 280 && ms < 1500, `the next provider took it after ${ms} ms (dispatch_timeout 300 ms)`)
  t.equal(silent.frames(), 1)
  t.equal(good.received.length, 1)
  await delay(50)
  t.equal(silent.closes(), 1, 'the silent provider\'s connection was closed, not leaked')
})

t.test('only a provider that never acks: 502 with the timeout, untracked, quickly', async t => {
  const c = await startCoordinator(t, { dispatch_timeout: 0.3 })
  const hook = await startHttpHook()
  t.teardown(() => hook.close())
  await silentProvider(t, join(c.dir, 'Hang', '1-silent.sock'))
  const started = Date.now()
  const answer = await post(c.url('/'), JSON.stringify({ id: 'h2', task: 'Hang', responseHook: hook.url() }))
  t.ok(Date.now() - started < 1500, 'answered within the dispatch timeout (the original waited forever)')
  t.equal(answer.status, 502)
  t.equal(JSON.parse(answer.body).error, 'no answer frame within 300 ms')
  t.equal(c.coordinator.tracker.size, 0, 'untracked')
  await delay(50)
  t.equal(hook.delivered.length, 0, 'no timeout delivered later for a refused request')
})

t.test('a provider that acks and dies: the client gets "response timeout" at request_timeout', async t => {
  const c = await startCoordinator(t, { request_timeout: 0.4 })
  const hook = await startHttpHook()
  t.teardown(() => hook.close())
  const path = join(c.dir, 'Dies', '1-p.sock')
  const provider = await startFakeProvider({ path, reply: () => null })
  const answer = await post(c.url('/'), JSON.stringify({ id: 'dead1', task: 'Dies', responseHook: hook.url('/d') }))
  t.equal(answer.status, 200)
  await provider.close()
  t.notOk(existsSync(path), 'the provider is gone')
  const started = Date.now()
  const [delivered] = await hook.waitFor(1)
  t.ok(Date.now() - started < 1500)
  t.equal(delivered?.raw, '{"error":"response timeout","id":"dead1","result":null,"streamURL":null}')
  t.equal(c.coordinator.tracker.size, 0)
  const next = await post(c.url('/'), JSON.stringify({ id: 'dead2', task: 'Dies', responseHook: hook.url() }))
  t.equal(next.status, 404, 'the task has no provider now')
})

t.test('a provider socket whose process is gone is skipped at once', async t => {
  const c = await startCoordinator(t, { dispatch_timeout: 3 })
  const stale = join(c.dir, 'Stale', '1-dead.sock')
  const good = await startFakeProvider({ path: join(c.dir, 'Stale', '2-good.sock') })
  t.teardown(() => good.close())
  await makeStaleSocket(stale)
  t.ok(existsSync(stale), 'a socket file nobody serves')
  const started = Date.now()
  const ack = await sendFrame(c.coordinator.addresses.requestSocket, '{"id":"s1","task":"Stale"}')
  t.equal(JSON.parse(ack).error, '')
  t.ok(Date.now() - started < 2000, 'no dispatch timeout (3 s) waited: ECONNREFUSED is immediate')
  t.equal(good.received.length, 1)
  // and with only the dead one: 502 with the refusal
  mkdirSync(join(c.dir, 'Stale2'))
  await makeStaleSocket(join(c.dir, 'Stale2', '1-dead.sock'))
  const refused = await post(c.url('/'), '{"id":"s3","task":"Stale2"}')
  t.equal(refused.status, 502)
  t.match(JSON.parse(refused.body).error, /^connection refused by .*1-dead\.sock$/)
})

t.test('a hook that is down, then back within the retry window, gets the response exactly once', async t => {
  holdOpen(t)
  const c = await startCoordinator(t, { hook_retries: 6 })
  const port = await freePort()
  const provider = await startFakeProvider({ path: join(c.dir, 'Late', '1-p.sock'), reply: () => ({ result: '"hello"' }) })
  t.teardown(() => provider.close())
  const received: string[] = []
  let hook: HttpServer | undefined
  t.teardown(() => new Promise<void>(resolve => { if (hook === undefined) resolve(); else hook.close(() => { resolve() }) }))
  const answer = await post(c.url('/'), JSON.stringify({ id: 'back1', task: 'Late', responseHook: `http://127.0.0.1:${port}/h` }))
  t.equal(answer.status, 200)
  // attempts at about 0, 100, 300, 700 ms: the hook comes up in between
  await delay(250)
  hook = createHttpServer((req, res) => {
    let body = ''
    req.on('data', (chunk: Buffer) => { body += chunk.toString() })
    req.on('end', () => { received.push(body); res.end('{}') })
  })
  await new Promise<void>(resolve => hook?.listen(port, '127.0.0.1', resolve))
  const until = Date.now() + 3000
  while (received.length === 0 && Date.now() < until) await delay(20)
  await delay(800)
  t.same(received, ['{"error":"","id":"back1","result":"hello","streamURL":null}'], 'delivered once')
  t.equal(c.coordinator.delivery.counts.delivered, 1)
  t.ok(c.coordinator.delivery.counts.retries >= 1, `after ${c.coordinator.delivery.counts.retries} retries`)
  t.equal(c.coordinator.delivery.counts.undeliverable, 0)
})

t.test('a hook that never comes back: logged and counted; other deliveries unaffected', async t => {
  holdOpen(t)
  const { log, lines } = capturingLogger()
  const c = await startCoordinator(t, { hook_retries: 3, hook_timeout: 2 }, { log })
  const good = await startHttpHook()
  t.teardown(() => good.close())
  const down = await freePort()
  // a black hole: accepts connections, never answers
  const hole = await startHttpServer(t, () => {})
  const provider = await startFakeProvider({ path: join(c.dir, 'P', '1-p.sock'), reply: r => ({ result: JSON.stringify(r.id) }) })
  t.teardown(() => provider.close())

  t.equal((await post(c.url('/'), JSON.stringify({ id: 'to-down', task: 'P', responseHook: `http://127.0.0.1:${down}/h` }))).status, 200)
  t.equal((await post(c.url('/'), JSON.stringify({ id: 'to-hole', task: 'P', responseHook: `${hole.url}/h` }))).status, 200)
  const started = Date.now()
  for (let i = 0; i < 20; i++) {
    t.equal((await post(c.url('/'), JSON.stringify({ id: `fine-${i}`, task: 'P', responseHook: good.url() }))).status, 200)
  }
  await good.waitFor(20)
  t.ok(Date.now() - started < 1500, 'the healthy hook\'s deliveries were not held up by the black hole (2 s)')
  const until = Date.now() + 5000
  while (c.coordinator.delivery.counts.undeliverable < 2 && Date.now() < until) await delay(20)
  const counts = c.coordinator.delivery.counts
  t.equal(counts.undeliverable, 2, 'both counted as undeliverable')
  t.equal(counts.delivered, 20)
  const failures = lines().filter(l => l.msg === 'response undeliverable')
  t.same(failures.map(l => l.id).sort(), ['to-down', 'to-hole'], 'each logged once')
  t.ok(failures.every(l => l.level === 'error'))
  t.match(failures.find(l => l.id === 'to-down')?.error, /ERR_HOOK_UNREACHABLE|unreachable after 3 attempt/)
  t.match(failures.find(l => l.id === 'to-hole')?.error, /ERR_HOOK_TIMEOUT|did not answer within 2000 ms/)
  t.equal(c.coordinator.delivery.inFlight, 0)
  t.equal(c.coordinator.tracker.size, 0)
})

t.test('a request stream whose source dies mid-way: the provider sees it end early, nothing else is affected', async t => {
  const { log, lines } = capturingLogger()
  const c = await startCoordinator(t, {}, { log })
  const source = await startHttpServer(t, (req, res) => {
    if (req.url === '/whole') { res.end('all of it'); return }
    res.writeHead(200, { 'Content-Length': 1024 * 1024 })
    res.write(Buffer.alloc(64 * 1024, 0x61), () => { setTimeout(() => res.socket?.destroy(), 20) })
  })
  const provider = await startFakeProvider({ path: join(c.dir, 'In', '1-p.sock') })
  t.teardown(() => provider.close())

  const read = (path: string): Promise<number> => new Promise((resolve, reject) => {
    const socket = connect(path)
    let bytes = 0
    socket.on('data', (chunk: Buffer) => { bytes += chunk.length })
    socket.on('end', () => { socket.destroy(); resolve(bytes) })
    socket.on('error', reject)
  })

  t.equal((await post(c.url('/'), JSON.stringify({ id: 'in1', task: 'In', streamURL: `${source.url}/dies` }))).status, 200)
  const path = unixPathOf(JSON.parse(provider.received[0] ?? '{}').streamURL) ?? ''
  t.match(path, /\/streams\/[0-9a-f]{16}\.sock$/, 'the provider got a one-shot socket')
  const bytes = await read(path)
  t.equal(bytes, 64 * 1024, 'the bytes sent before the source died, then the end')
  await delay(50)
  t.equal(c.coordinator.streams.stats.failed, 1, 'counted as failed')
  t.ok(lines().some(l => l.msg === 'request stream failed' && l.id === 'in1'), 'and logged')
  t.notOk(existsSync(path), 'the one-shot socket is gone')
  t.equal(c.coordinator.streams.openSockets, 0)

  t.equal((await post(c.url('/'), JSON.stringify({ id: 'in2', task: 'In', streamURL: `${source.url}/whole` }))).status, 200)
  const next = unixPathOf(JSON.parse(provider.received[1] ?? '{}').streamURL) ?? ''
  t.equal(await read(next), 'all of it'.length, 'the next stream is whole')
})

t.test('a provider that leaves its request stream mid-way closes the source', async t => {
  const c = await startCoordinator(t)
  let sourceClosed = false
  const source = await startHttpServer(t, (_req, res) => {
    res.on('close', () => { sourceClosed = true })
    const chunk = Buffer.alloc(64 * 1024, 0x62)
    const pump = (): void => { while (res.write(chunk)); res.once('drain', pump) }
    res.writeHead(200)
    pump()
  })
  const provider = await startFakeProvider({ path: join(c.dir, 'Leave', '1-p.sock') })
  t.teardown(() => provider.close())
  t.equal((await post(c.url('/'), JSON.stringify({ id: 'lv1', task: 'Leave', streamURL: `${source.url}/endless` }))).status, 200)
  const path = unixPathOf(JSON.parse(provider.received[0] ?? '{}').streamURL) ?? ''
  await new Promise<void>(resolve => {
    const socket = connect(path)
    let bytes = 0
    socket.on('data', (chunk: Buffer) => {
      bytes += chunk.length
      if (bytes >= 256 * 1024) { socket.destroy(); resolve() }
    })
  })
  const until = Date.now() + 3000
  while (!sourceClosed && Date.now() < until) await delay(20)
  t.ok(sourceClosed, 'the endless source was closed')
  t.equal(c.coordinator.streams.stats.active, 0)
  t.same(readdirSync(join(c.dir, 'streams')), [], 'no socket left')
})

t.test('a second coordinator with the same name is refused; the first keeps every socket and works', async t => {
  const c = await startCoordinator(t)
  const hook = await startHttpHook()
  t.teardown(() => hook.close())
  const provider = await startFakeProvider({ path: join(c.dir, 'T', '1-p.sock'), reply: () => ({ result: '1' }) })
  t.teardown(() => provider.close())
  const rival = new Coordinator({ ...buildConfig({ service_name: 'coord', socket_dir: c.dir }), externalPort: 0, bindAddress: '127.0.0.1' })
  await t.rejects(rival.start(), { code: 'ERR_SOCKET_IN_USE' })
  await rival.stop()
  const { requestSocket, responseSocket } = c.coordinator.addresses
  t.ok(existsSync(requestSocket) && existsSync(responseSocket), 'the first one\'s sockets are still there')
  const answer = await post(c.url('/'), JSON.stringify({ id: 'first-ok', task: 'T', responseHook: hook.url() }))
  t.equal(answer.status, 200)
  const [delivered] = await hook.waitFor(1)
  t.equal(delivered?.json.id, 'first-ok', 'a whole round trip, response socket included')
  t.equal(JSON.parse(await sendFrame(requestSocket, '{"id":"u","task":"T"}')).error, '')
})

t.test('a provider that answers garbage, or a frame over the limit, is a failed provider, nothing more', async t => {
  const c = await startCoordinator(t, { max_frame_bytes: 1024 })
  const liar = (reply: Buffer) => (socket: Socket): void => {
    socket.on('error', () => {})
    onFrames(socket, () => { socket.end(reply) })
  }
  mkdirSync(join(c.dir, 'Liars'))
  const servers: Server[] = []
  t.teardown(() => Promise.all(servers.map(s => new Promise<void>(resolve => s.close(() => { resolve() })))))
  for (const [name, reply] of [
    ['1-garbage.sock', frame('not json')],
    ['2-huge.sock', Buffer.concat([Buffer.from([0, 0, 0x10, 0]), Buffer.alloc(16, 0x20)])],
    ['3-truncated.sock', Buffer.from([0, 0, 0, 50, 0x7b])]
  ] as const) {
    const server = createServer(liar(reply))
    servers.push(server)
    await new Promise<void>(resolve => server.listen(join(c.dir, 'Liars', name), resolve))
  }
  const good = await startFakeProvider({ path: join(c.dir, 'Liars', '4-good.sock') })
  t.teardown(() => good.close())
  const ack = await sendFrame(c.coordinator.addresses.requestSocket, '{"id":"l1","task":"Liars"}')
  t.equal(JSON.parse(ack).error, '', 'the fourth provider took it')
  t.equal(good.received.length, 1)
  await good.close()
  const answer = await post(c.url('/'), JSON.stringify({ id: 'l2', task: 'Liars', responseHook: goUrl('http', '127.0.0.1:9', '/h') }))
  t.equal(answer.status, 502)
  t.match(JSON.parse(answer.body).error, /connection closed before a full answer frame/, 'the last failure is the client\'s error')
  t.equal(c.coordinator.tracker.size, 0)
})
