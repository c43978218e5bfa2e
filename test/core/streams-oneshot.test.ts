/**
 * One-shot sockets of request streams (SPEC 6): under `<socket_dir>/streams`, removed after
 * use, after the request's timeout, after a failed dispatch and on stop; bounded in number.
 */
import t, { type Test } from 'tap'
import { existsSync, readdirSync } from 'node:fs'
import { connect } from 'node:net'
import { join } from 'node:path'
import { startCoordinator, post, goUrl, type TestCoordinator } from '../fixtures/coordinator.js'
import { startFakeProvider, type FakeProvider } from '../fixtures/fake-provider.js'
import { delay, startHttpServer } from '../fixtures/http-helpers.js'
import { unixPathOf } from '../fixtures/wire.js'

/** An http source counting the connections made to it. */
async function countingSource (t: Test, body = 'request stream bytes'): Promise<{ url: string, connections: () => number }> {
  let n = 0
  const source = await startHttpServer(t, (_req, res) => { res.end(body) })
  source.server.on('connection', () => { n++ })
  return { url: `http://127.0.0.1:${source.port}/in`, connections: () => n }
}

/** A provider for `task` that acks and never touches the stream. */
async function idleProvider (t: Test, c: TestCoordinator, task: string, ack: 'ack' | 'error-ack' = 'ack'): Promise<FakeProvider> {
  const provider = await startFakeProvider({ path: join(c.dir, task, '10-p.sock'), ack })
  t.teardown(() => provider.close())
  return provider
}

function streamPathOf (provider: FakeProvider, i = 0): string {
  return unixPathOf(JSON.parse(provider.received[i] ?? '{}').streamURL) ?? ''
}

function read (path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(path)
    let text = ''
    socket.on('data', (c: Buffer) => { text += c.toString() })
    socket.on('end', () => { socket.destroy(); resolve(text) })
    socket.on('error', reject)
  })
}

/** Resolves true once `done()` holds (polled), false after `ms`. */
async function waitUntil (done: () => boolean, ms = 5000): Promise<boolean> {
  const until = Date.now() + ms
  while (!done()) {
    if (Date.now() > until) return false
    await delay(10)
  }
  return true
}

function streamsDir (c: TestCoordinator): string[] {
  return readdirSync(join(c.dir, 'streams'))
}

t.test('used: the provider reads the stream once, then the socket is gone', async t => {
  const c = await startCoordinator(t)
  const source = await countingSource(t)
  const provider = await idleProvider(t, c, 'Use')
  const answer = await post(c.url('/'), JSON.stringify({ id: 'use1', task: 'Use', streamURL: source.url }))
  t.equal(answer.status, 200, answer.body)
  const path = streamPathOf(provider)
  t.equal(source.connections(), 0, 'the source is opened only when the provider connects')
  t.equal(await read(path), 'request stream bytes')
  t.ok(await waitUntil(() => !existsSync(path) && c.coordinator.streams.openSockets === 0, 1000), 'gone after use')
  await t.rejects(read(path), { code: 'ENOENT' })
  t.equal(c.coordinator.streams.openSockets, 0)
})

t.test('unused: the socket is gone after the request timeout, and its source was never opened', async t => {
  const c = await startCoordinator(t, { request_timeout: 0.3 })
  const source = await countingSource(t)
  const provider = await idleProvider(t, c, 'Idle')
  const answer = await post(c.url('/'), JSON.stringify({ id: 'idle1', task: 'Idle', streamURL: source.url }))
  t.equal(answer.status, 200, answer.body)
  const path = streamPathOf(provider)
  const acked = Date.now()
  t.ok(existsSync(path), 'there while the request is young')
  t.ok(await waitUntil(() => !existsSync(path) && c.coordinator.streams.openSockets === 0), 'gone after the timeout')
  t.ok(Date.now() - acked >= 200, `not before its time (${Date.now() - acked} ms after the ack)`)
  t.same(streamsDir(c), [])
  t.equal(source.connections(), 0)
  t.equal(c.coordinator.streams.openSockets, 0)
})

t.test('at most max_stream_sockets at once: beyond it 503 ERR_OVERLOADED, until one is freed', async t => {
  const c = await startCoordinator(t, { request_timeout: 0.3, max_stream_sockets: 1 })
  const source = await countingSource(t)
  await idleProvider(t, c, 'Lim')
  const first = await post(c.url('/'), JSON.stringify({ id: 'lim1', task: 'Lim', streamURL: source.url }))
  t.equal(first.status, 200)
  const second = await post(c.url('/'), JSON.stringify({ id: 'lim2', task: 'Lim', streamURL: source.url }))
  t.equal(second.status, 503)
  t.equal(JSON.parse(second.body).error, 'too many open stream sockets (limit 1)')
  t.equal(JSON.parse(second.body).id, 'lim2')
  t.equal(c.coordinator.streams.stats.refused, 1)
  const noStream = await post(c.url('/'), JSON.stringify({ id: 'lim3', task: 'Lim' }))
  t.equal(noStream.status, 200, 'requests without a stream are not affected')
  t.ok(await waitUntil(() => c.coordinator.streams.openSockets === 0), 'the unused socket expired')
  const later = await post(c.url('/'), JSON.stringify({ id: 'lim4', task: 'Lim', streamURL: source.url }))
  t.equal(later.status, 200, 'the expired socket freed its slot')
})

t.test('a request no provider accepts leaves no socket behind', async t => {
  const c = await startCoordinator(t, { request_timeout: 60 })
  const source = await countingSource(t)
  const provider = await idleProvider(t, c, 'Refuse', 'error-ack')
  const answer = await post(c.url('/'), JSON.stringify({ id: 'ref1', task: 'Refuse', streamURL: source.url }))
  t.equal(answer.status, 502)
  const path = streamPathOf(provider)
  t.ok(path !== '', 'the provider was offered a one-shot socket')
  t.ok(await waitUntil(() => !existsSync(path) && c.coordinator.streams.openSockets === 0), 'released at once, not after the 60 s timeout')
  t.equal(c.coordinator.streams.openSockets, 0)
})

t.test('stop removes every one-shot socket', async t => {
  const c = await startCoordinator(t, { request_timeout: 60 })
  const source = await countingSource(t)
  const provider = await idleProvider(t, c, 'Stop')
  for (const id of ['s1', 's2', 's3']) {
    t.equal((await post(c.url('/'), JSON.stringify({ id, task: 'Stop', streamURL: source.url }))).status, 200)
  }
  t.equal(streamsDir(c).length, 3)
  await c.coordinator.stop()
  t.same(streamsDir(c), [])
  for (let i = 0; i < 3; i++) t.notOk(existsSync(streamPathOf(provider, i)))
})

t.test('a source that cannot be opened: the provider sees the stream end empty, the failure is counted', async t => {
  const c = await startCoordinator(t)
  const source = await startHttpServer(t, (_req, res) => { res.writeHead(404); res.end() })
  const provider = await idleProvider(t, c, 'Bad')
  const answer = await post(c.url('/'), JSON.stringify({ id: 'bad1', task: 'Bad', streamURL: goUrl('http', `127.0.0.1:${source.port}`, '/x') }))
  t.equal(answer.status, 200, answer.body)
  t.equal(await read(streamPathOf(provider)), '')
  t.equal(c.coordinator.streams.stats.failed, 1)
})
