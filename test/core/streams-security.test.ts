/**
 * `/stream` serves only what the coordinator issued (SPEC 6): everything else is refused
 * without a connection to the named address.
 */
import t, { type Test } from 'tap'
import http from 'node:http'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { startCoordinator, post, goUrl, type TestCoordinator } from '../fixtures/coordinator.js'
import { startFakeProvider } from '../fixtures/fake-provider.js'
import { startHttpHook } from '../fixtures/hook-sink.js'
import { delay, startHttpServer } from '../fixtures/http-helpers.js'
import { rawServer } from '../fixtures/net-helpers.js'

interface Answer { status: number, headers: http.IncomingHttpHeaders, body: string }

function get (url: string, method = 'GET'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method }, res => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end()
  })
}

function streamUrl (c: TestCoordinator, addr: string): string {
  return c.url('/stream?addr=' + encodeURIComponent(addr))
}

/** Has the coordinator issue `streamURL` (raw JSON) by routing a response that carries it; resolves with the delivered /stream URL on 127.0.0.1. */
async function issue (t: Test, c: TestCoordinator, streamURL: string, id: string): Promise<string> {
  const hook = await startHttpHook()
  t.teardown(() => hook.close())
  const provider = await startFakeProvider({ path: join(c.dir, `Issue-${id}`, '10-p.sock'), reply: () => ({ streamURL }) })
  t.teardown(() => provider.close())
  await post(c.url('/'), JSON.stringify({ id, task: `Issue-${id}`, responseHook: goUrl('http', `127.0.0.1:${hook.port}`, '/h') }))
  const [delivered] = await hook.waitFor(1)
  const u = delivered?.json.streamURL as Record<string, string>
  return c.url(`${u.Path}?${u.RawQuery}`)
}

t.test('a forged addr naming a provider\'s socket is refused with 403, and never connected to', async t => {
  const c = await startCoordinator(t)
  mkdirSync(join(c.dir, 'Secret'))
  const providerSocket = join(c.dir, 'Secret', '10-p.sock')
  let connections = 0
  await rawServer(t, providerSocket, socket => { connections++; socket.end('secret') })
  for (const addr of [`unix://${providerSocket}`, `unix:${providerSocket}`, `UNIX://${providerSocket}`]) {
    const answer = await get(streamUrl(c, addr))
    t.equal(answer.status, 403, addr)
    t.equal(answer.body, 'stream address not issued by this coordinator, or expired\n')
    t.match(answer.headers['content-type'], /^text\/plain/)
  }
  await delay(50)
  t.equal(connections, 0, 'the socket saw no connection')
  t.equal(c.coordinator.streams.stats.refused, 3)
})

t.test('a forged http addr of a server holding a secret is refused with 403, and never connected to', async t => {
  const c = await startCoordinator(t)
  let connections = 0
  const secret = await startHttpServer(t, (_req, res) => { res.end('the secret') })
  secret.server.on('connection', () => { connections++ })
  for (const addr of [`http://127.0.0.1:${secret.port}/secret`, `http://localhost:${secret.port}/secret`, `https://127.0.0.1:${secret.port}/`]) {
    const answer = await get(streamUrl(c, addr))
    t.equal(answer.status, 403, addr)
    t.notMatch(answer.body, /the secret/)
  }
  await delay(50)
  t.equal(connections, 0, 'the secret server saw no connection')
})

t.test('an issued address expires with the request timeout', async t => {
  const c = await startCoordinator(t, { request_timeout: 0.3 })
  mkdirSync(join(c.dir, 'out'))
  const source = join(c.dir, 'out', 's.sock')
  let connections = 0
  await rawServer(t, source, socket => { connections++; socket.end('data') })
  const url = await issue(t, c, JSON.stringify(goUrl('unix', '', source)), 'exp1')
  const first = await get(url)
  t.equal(first.status, 200)
  t.equal(first.body, 'data')
  await delay(400)
  const late = await get(url)
  t.equal(late.status, 403)
  t.equal(connections, 1, 'the expired address was not connected to')
})

t.test('400 invalid addr: missing, empty, unparsable', async t => {
  const c = await startCoordinator(t)
  for (const path of ['/stream', '/stream?addr=', '/stream?other=1', '/stream?addr=notaurl', '/stream?addr=%2Fjust%2Fa%2Fpath']) {
    const answer = await get(c.url(path))
    t.equal(answer.status, 400, path)
    t.equal(answer.body, 'invalid addr\n', path)
    t.equal(answer.headers['content-type'], 'text/plain; charset=utf-8')
  }
})

t.test('502 failed to stream data: an issued unix address whose socket is gone, an issued http source that fails', async t => {
  const c = await startCoordinator(t)
  const gone = await issue(t, c, JSON.stringify(goUrl('unix', '', join(c.dir, 'gone.sock'))), 'gone1')
  const answer = await get(gone)
  t.equal(answer.status, 502)
  t.equal(answer.body, 'failed to stream data\n')

  const source = await startHttpServer(t, (_req, res) => { res.writeHead(500); res.end('broken') })
  const failing = await issue(t, c, JSON.stringify(goUrl('http', `127.0.0.1:${source.port}`, '/s')), 'gone2')
  const second = await get(failing)
  t.equal(second.status, 502)
  t.equal(second.body, 'failed to stream data\n')
  t.equal(c.coordinator.streams.stats.failed, 2)
})

t.test('the addr matches however the client escapes it', async t => {
  const c = await startCoordinator(t)
  mkdirSync(join(c.dir, 'out'))
  const source = join(c.dir, 'out', 'esc.sock')
  await rawServer(t, source, socket => { socket.end('escaped') })
  await issue(t, c, JSON.stringify(`unix://${source}`), 'esc1')
  for (const query of [`addr=unix://${source}`, `addr=${encodeURIComponent(`unix://${source}`).replace(/%[0-9A-F]{2}/g, m => m.toLowerCase())}`, `x=1&addr=unix%3A%2F%2F${source}`]) {
    const answer = await get(c.url(`/stream?${query}`))
    t.equal(answer.status, 200, query)
    t.equal(answer.body, 'escaped')
  }
})

t.test('other methods on /stream: 405, and never taken for a request', async t => {
  const c = await startCoordinator(t)
  for (const method of ['POST', 'PUT', 'DELETE']) {
    const answer = await get(c.url('/stream?addr=unix%3A%2F%2F%2Fx.sock'), method)
    t.equal(answer.status, 405, method)
    t.equal(answer.headers.allow, 'GET')
  }
})
