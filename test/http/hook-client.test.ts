import t from 'tap'
import http from 'node:http'
import net from 'node:net'
import type { Socket } from 'node:net'
import { HookClient } from '../../src/http/hook-client.js'
import type { HookUnreachableError } from '../../src/http/errors.js'
import { delay, freePort, holdOpen, startHttpServer } from '../fixtures/http-helpers.js'

function newClient (t: { teardown: (fn: () => void) => void }, opts?: { maxSockets?: number, keepAliveMs?: number }): HookClient {
  const client = new HookClient(opts)
  t.teardown(() => { client.close() })
  holdOpen(t)
  return client
}

function readAll (req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => { resolve(Buffer.concat(chunks)) })
    req.on('error', reject)
  })
}

const PAYLOAD = Buffer.from('{"id":"a1","error":"","result":18446744073709551615,"streamURL":null}')

t.test('delivers the body with its headers and returns the reply', async t => {
  const seen: Array<{ method: string, url: string, headers: http.IncomingHttpHeaders, body: Buffer }> = []
  const { url } = await startHttpServer(t, (req, res) => {
    void readAll(req).then(body => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body })
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}')
    })
  })
  const client = newClient(t)
  const r = await client.post(`${url}/hook-a1?x=1`, PAYLOAD, { timeoutMs: 1000, retries: 1, headers: { 'x-trace': 't1' } })
  t.equal(r.status, 200)
  t.equal(r.body.toString(), '{"ok":true}')
  t.equal(r.attempts, 1)
  t.equal(seen.length, 1)
  const s = seen[0]
  t.equal(s?.method, 'POST')
  t.equal(s?.url, '/hook-a1?x=1')
  t.equal(s?.headers['content-type'], 'application/json')
  t.equal(s?.headers['content-length'], String(PAYLOAD.length))
  t.equal(s?.headers['x-trace'], 't1')
  t.ok(s?.body.equals(PAYLOAD), 'body byte-exact')
})

t.test('reuses one keep-alive socket for sequential posts', async t => {
  let connections = 0
  let requests = 0
  const { server, url } = await startHttpServer(t, (req, res) => {
    requests++
    void readAll(req).then(() => res.end('ok'))
  })
  server.on('connection', () => { connections++ })
  const client = newClient(t)
  for (let i = 0; i < 5; i++) {
    const r = await client.post(`${url}/h`, PAYLOAD, { timeoutMs: 1000, retries: 1 })
    t.equal(r.status, 200)
  }
  t.equal(requests, 5)
  t.equal(connections, 1, 'one socket for all posts')
})

t.test('a non-2xx status is a result, not an error', async t => {
  const { url } = await startHttpServer(t, (req, res) => {
    void readAll(req).then(() => res.writeHead(500).end('boom'))
  })
  const client = newClient(t)
  const r = await client.post(`${url}/h`, PAYLOAD, { timeoutMs: 1000, retries: 3, backoffMs: 10 })
  t.equal(r.status, 500)
  t.equal(r.body.toString(), 'boom')
  t.equal(r.attempts, 1, 'not retried')
})

t.test('a hook that is down fails with ERR_HOOK_UNREACHABLE after every attempt', async t => {
  const port = await freePort()
  const client = newClient(t)
  const start = performance.now()
  const err = await client.post(`http://127.0.0.1:${port}/h`, PAYLOAD, { timeoutMs: 1000, retries: 3, backoffMs: 20 })
    .then(() => undefined, (e: HookUnreachableError) => e)
  const ms = performance.now() - start
  t.equal(err?.code, 'ERR_HOOK_UNREACHABLE')
  t.equal(err?.attempts, 3)
  t.match(err?.message, /ECONNREFUSED/, 'names the last cause')
  t.ok(ms >= 55, `backed off 20 + 40 ms (took ${Math.round(ms)} ms)`)
})

t.test('a hook that comes up during the backoff gets the payload exactly once', async t => {
  const port = await freePort()
  const client = newClient(t)
  let delivered = 0
  const server = http.createServer((req, res) => {
    void readAll(req).then(body => {
      if (body.equals(PAYLOAD)) delivered++
      res.end('ok')
    })
  })
  t.teardown(() => { server.closeAllConnections(); server.close() })
  const posted = client.post(`http://127.0.0.1:${port}/h`, PAYLOAD, { timeoutMs: 1000, retries: 6, backoffMs: 40 })
  await delay(30)
  await new Promise<void>(resolve => server.listen(port, '127.0.0.1', resolve))
  const r = await posted
  t.equal(r.status, 200)
  t.ok(r.attempts >= 2, `delivered on attempt ${r.attempts}`)
  await delay(50)
  t.equal(delivered, 1)
})

t.test('a hook that accepts but never answers: ERR_HOOK_TIMEOUT, not retried', async t => {
  // The hook may have acted on the request: retrying could deliver it twice.
  let requests = 0
  const { url } = await startHttpServer(t, req => { requests++; req.resume() })
  const client = newClient(t)
  const start = performance.now()
  await t.rejects(client.post(`${url}/h`, PAYLOAD, { timeoutMs: 100, retries: 3, backoffMs: 10 }), { code: 'ERR_HOOK_TIMEOUT' })
  const ms = performance.now() - start
  t.ok(ms >= 90 && ms < 1000, `after ${Math.round(ms)} ms`)
  await delay(50)
  t.equal(requests, 1, 'one attempt')
})

t.test('the timeout covers a reply body that never ends', async t => {
  const { url } = await startHttpServer(t, (req, res) => {
    void readAll(req).then(() => { res.writeHead(200, { 'content-length': '100' }); res.write('partial') })
  })
  const client = newClient(t)
  await t.rejects(client.post(`${url}/h`, PAYLOAD, { timeoutMs: 100, retries: 3 }), { code: 'ERR_HOOK_TIMEOUT' })
})

t.test('a stale keep-alive socket closed by the hook is retried on a new one', async t => {
  const perSocket = new WeakMap<Socket, number>()
  let answered = 0
  const { url } = await startHttpServer(t, (req, res) => {
    const n = (perSocket.get(req.socket) ?? 0) + 1
    perSocket.set(req.socket, n)
    // The second request on a connection meets a server that is closing it, as when its
    // keep-alive timeout fires just as the client reuses the socket.
    if (n === 2) { req.socket.destroy(); return }
    void readAll(req).then(() => { answered++; res.end('ok') })
  })
  const client = newClient(t)
  const r1 = await client.post(`${url}/h`, PAYLOAD, { timeoutMs: 1000, retries: 2, backoffMs: 10 })
  t.equal(r1.attempts, 1)
  const r2 = await client.post(`${url}/h`, PAYLOAD, { timeoutMs: 1000, retries: 2, backoffMs: 10 })
  t.equal(r2.status, 200)
  t.equal(r2.attempts, 2)
  t.equal(answered, 2)
})

t.test('a reply cut short after the status line fails with ERR_HOOK_FAILED, not retried', async t => {
  let requests = 0
  const { url } = await startHttpServer(t, (req, res) => {
    requests++
    void readAll(req).then(() => {
      res.writeHead(200, { 'content-length': '100' })
      res.write('partial', () => { setTimeout(() => { res.destroy() }, 10) })
    })
  })
  const client = newClient(t)
  await t.rejects(client.post(`${url}/h`, PAYLOAD, { timeoutMs: 1000, retries: 3, backoffMs: 10 }), { code: 'ERR_HOOK_FAILED' })
  t.equal(requests, 1)
})

t.test('keeps maxReplyBytes of the reply, drains the rest, and reuses the socket', async t => {
  let connections = 0
  const big = Buffer.alloc(200 * 1024, 'x')
  const { server, url } = await startHttpServer(t, (req, res) => {
    void readAll(req).then(() => res.end(big))
  })
  server.on('connection', () => { connections++ })
  const client = newClient(t)
  const r1 = await client.post(`${url}/h`, PAYLOAD, { timeoutMs: 2000, retries: 1, maxReplyBytes: 1000 })
  t.equal(r1.body.length, 1000)
  const r2 = await client.post(`${url}/h`, PAYLOAD, { timeoutMs: 2000, retries: 1 })
  t.equal(r2.body.length, 64 * 1024, 'default limit 64 KiB')
  t.equal(connections, 1)
})

t.test('bad URLs and a closed client fail with ERR_HOOK_FAILED', async t => {
  const client = newClient(t)
  await t.rejects(client.post('not a url', PAYLOAD, { timeoutMs: 100, retries: 1 }), { code: 'ERR_HOOK_FAILED' })
  await t.rejects(client.post('ftp://127.0.0.1/x', PAYLOAD, { timeoutMs: 100, retries: 1 }), { code: 'ERR_HOOK_FAILED' })
  client.close()
  await t.rejects(client.post('http://127.0.0.1:1/x', PAYLOAD, { timeoutMs: 100, retries: 1 }), { code: 'ERR_HOOK_FAILED' })
})

t.test('close() during the backoff ends the post with ERR_HOOK_FAILED at once', async t => {
  const port = await freePort()
  const client = newClient(t)
  const start = performance.now()
  const posted = client.post(`http://127.0.0.1:${port}/h`, PAYLOAD, { timeoutMs: 1000, retries: 3, backoffMs: 5000 })
  await delay(30)
  client.close()
  await t.rejects(posted, { code: 'ERR_HOOK_FAILED' })
  t.ok(performance.now() - start < 1000, 'did not wait for the backoff')
})

t.test('many concurrent posts all arrive', async t => {
  let received = 0
  const { url } = await startHttpServer(t, (req, res) => {
    void readAll(req).then(() => { received++; res.end() })
  })
  const client = newClient(t, { maxSockets: 8 })
  const results = await Promise.all(Array.from({ length: 200 }, () =>
    client.post(`${url}/h`, PAYLOAD, { timeoutMs: 5000, retries: 1 })))
  t.equal(results.filter(r => r.status === 200).length, 200)
  t.equal(received, 200)
})

t.test('a post waiting for a pooled socket that times out reached nobody: unreachable', async t => {
  let requests = 0
  const { url } = await startHttpServer(t, req => { requests++; req.resume() })
  const client = newClient(t, { maxSockets: 1 })
  const hanging = client.post(`${url}/h`, PAYLOAD, { timeoutMs: 400, retries: 1 })
  const queued = client.post(`${url}/h`, PAYLOAD, { timeoutMs: 100, retries: 1 })
  await t.rejects(queued, { code: 'ERR_HOOK_UNREACHABLE', attempts: 1 })
  await t.rejects(hanging, { code: 'ERR_HOOK_TIMEOUT' })
  t.equal(requests, 1, 'the queued post never reached the hook')
})

t.test('a garbage reply fails with ERR_HOOK_FAILED, not retried', async t => {
  let connections = 0
  const server = net.createServer(s => {
    connections++
    s.on('error', () => {})
    s.once('data', () => { s.end('garbage\r\n\r\n') })
  })
  t.teardown(() => { server.close() })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as net.AddressInfo
  const client = newClient(t)
  await t.rejects(client.post(`http://127.0.0.1:${port}/h`, PAYLOAD, { timeoutMs: 1000, retries: 3, backoffMs: 10 }),
    { code: 'ERR_HOOK_FAILED' })
  t.equal(connections, 1)
})

t.test('an invalid header fails with ERR_HOOK_FAILED before any connection', async t => {
  const client = newClient(t)
  await t.rejects(client.post('http://127.0.0.1:1/h', PAYLOAD, { timeoutMs: 100, retries: 3, headers: { 'x-bad': 'a\nb' } }),
    { code: 'ERR_HOOK_FAILED' })
})

t.test('an https: post that meets close() while node:https loads is refused and connects nowhere', async t => {
  let connections = 0
  const server = net.createServer(socket => { connections++; socket.destroy() })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { server.close() })
  const { port } = server.address() as net.AddressInfo
  const client = new HookClient()
  const posting = client.post(`https://127.0.0.1:${port}/h`, Buffer.from('{}'), { timeoutMs: 1000, retries: 1 })
  client.close()
  await t.rejects(posting, { code: 'ERR_HOOK_FAILED', message: /client closed/ })
  await delay(100)
  t.equal(connections, 0, 'no connection after close()')
})
