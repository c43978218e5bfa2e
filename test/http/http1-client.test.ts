import t from 'tap'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import net from 'node:net'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import { HookClient, type HookClientOptions } from '../../src/http/hook-client.js'
import { MAX_HEADER_BYTES } from '../../src/http/http1-parser.js'
import { delay, holdOpen, type Teardown } from '../fixtures/http-helpers.js'
import { startRawServer, writeInPieces } from '../fixtures/raw-http-server.js'

const PAYLOAD = Buffer.from('{"id":"r1","error":"","result":null,"streamURL":null}')
const OK = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'
const POST = { timeoutMs: 1000, retries: 3, backoffMs: 10 }

function newClient (t: Teardown, opts?: HookClientOptions): HookClient {
  const client = new HookClient(opts)
  t.teardown(() => { client.close() })
  holdOpen(t)
  return client
}

// Resolves once `check()` holds, or rejects after ms.
async function until (check: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time')
    await delay(5)
  }
}

t.test('one write: the exact request head and body', async t => {
  const server = await startRawServer(t, req => { req.socket.write(OK) })
  const client = newClient(t)
  const r = await client.post(`${server.url}/hook/a%20b?x=1&y=%2F#frag`, PAYLOAD,
    { ...POST, headers: { 'X-Trace': 't1', 'content-type': 'text/plain', 'Content-Length': '1' } })
  t.equal(r.status, 200)
  t.equal(r.body.toString(), 'ok')
  t.equal(r.attempts, 1)
  const req = server.requests[0]
  t.equal(req?.head, `POST /hook/a%20b?x=1&y=%2F HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\n` +
    `Content-Type: application/json\r\nContent-Length: ${PAYLOAD.length}\r\nX-Trace: t1\r\n\r\n`)
  t.ok(req?.body.equals(PAYLOAD), 'body byte-exact')
})

t.test('a chunked reply with extensions and trailers, written one byte at a time', async t => {
  const reply = 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n' +
    '4;a=b\r\n{"ok\r\n' + '6 ; c\r\n":true\r\n' + '1\r\n}\r\n' + '0;end\r\nX-Sum: 1\r\n\r\n'
  const server = await startRawServer(t, req => { void writeInPieces(req.socket, reply, 1) })
  const client = newClient(t)
  const r = await client.post(`${server.url}/h`, PAYLOAD, POST)
  t.equal(r.status, 200)
  t.equal(r.body.toString(), '{"ok":true}')
  const again = await client.post(`${server.url}/h`, PAYLOAD, POST)
  t.equal(again.body.toString(), '{"ok":true}')
  t.equal(server.connections(), 1, 'the socket was reused after the trailers')
})

t.test('100 Continue then the final response', async t => {
  const server = await startRawServer(t, req => {
    req.socket.write('HTTP/1.1 100 Continue\r\n\r\n')
    setTimeout(() => { req.socket.write('HTTP/1.1 201 Created\r\nContent-Length: 4\r\n\r\ndone') }, 10)
  })
  const client = newClient(t)
  const r = await client.post(`${server.url}/h`, PAYLOAD, POST)
  t.equal(r.status, 201)
  t.equal(r.body.toString(), 'done')
})

t.test('a 204 has no body and keeps the socket', async t => {
  const server = await startRawServer(t, req => { req.socket.write('HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\n') })
  const client = newClient(t)
  for (let i = 0; i < 3; i++) {
    const r = await client.post(`${server.url}/h`, PAYLOAD, POST)
    t.equal(r.status, 204)
    t.equal(r.body.length, 0)
  }
  t.equal(server.connections(), 1)
})

t.test('a body delimited by the close of the connection', async t => {
  const server = await startRawServer(t, req => { req.socket.end('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nto the end') })
  const client = newClient(t)
  const r1 = await client.post(`${server.url}/h`, PAYLOAD, POST)
  t.equal(r1.body.toString(), 'to the end')
  const r2 = await client.post(`${server.url}/h`, PAYLOAD, POST)
  t.equal(r2.attempts, 1)
  t.equal(server.connections(), 2, 'a new socket for the next post')
})

t.test('Connection: close and HTTP/1.0 replies are honoured: the socket is not reused', async t => {
  const replies = [
    'HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok',
    'HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok',
    'HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok'
  ]
  let n = 0
  // The server keeps every socket open: only the client's reading of the reply closes it.
  const server = await startRawServer(t, req => { req.socket.write(replies[n++] ?? OK) })
  const client = newClient(t)
  for (let i = 0; i < 4; i++) t.equal((await client.post(`${server.url}/h`, PAYLOAD, POST)).status, 200)
  t.equal(server.connections(), 3, 'close, 1.0, then one socket for 1.0 keep-alive and the last post')
  await until(() => server.sockets.size === 1)
  t.pass('the client closed the sockets it did not keep')
})

t.test('keep-alive: one connection for sequential posts', async t => {
  const server = await startRawServer(t, req => { req.socket.write(OK) })
  const client = newClient(t)
  for (let i = 0; i < 20; i++) t.equal((await client.post(`${server.url}/h${i}`, PAYLOAD, POST)).status, 200)
  t.equal(server.requests.length, 20)
  t.equal(server.connections(), 1)
  t.same(server.requests.map(r => r.seq), Array.from({ length: 20 }, (_, i) => i))
})

t.test('bytes after the reply: the result stands, the socket is not reused', async t => {
  const server = await startRawServer(t, req => { req.socket.write(`${OK}HTTP/1.1 200 OK\r\n`) })
  const client = newClient(t)
  t.equal((await client.post(`${server.url}/h`, PAYLOAD, POST)).body.toString(), 'ok')
  t.equal((await client.post(`${server.url}/h`, PAYLOAD, POST)).body.toString(), 'ok')
  t.equal(server.connections(), 2)
})

t.test('bytes nobody asked for on an idle socket: it is dropped', async t => {
  const server = await startRawServer(t, req => {
    req.socket.write(OK)
    if (req.connection === 0) setTimeout(() => { req.socket.write('HTTP/1.1 200 OK\r\n') }, 10)
  })
  const client = newClient(t)
  await client.post(`${server.url}/h`, PAYLOAD, POST)
  await until(() => server.sockets.size === 0)
  const r = await client.post(`${server.url}/h`, PAYLOAD, POST)
  t.equal(r.attempts, 1)
  t.equal(server.connections(), 2)
})

t.test('a pooled socket the server closed while idle leaves the pool', async t => {
  const server = await startRawServer(t, req => {
    req.socket.write(OK)
    setTimeout(() => { req.socket.end() }, 10)
  })
  const client = newClient(t)
  await client.post(`${server.url}/h`, PAYLOAD, POST)
  await until(() => server.sockets.size === 0)
  const r = await client.post(`${server.url}/h`, PAYLOAD, POST)
  t.equal(r.attempts, 1, 'no failed attempt on the closed socket')
  t.equal(server.connections(), 2)
  t.equal(server.requests.length, 2)
})

t.test('a stale pooled socket that the server closes as it is reused: retried, delivered once', async t => {
  let answered = 0
  const server = await startRawServer(t, req => {
    // As when the server's keep-alive timeout fires just as the client reuses the socket.
    if (req.seq === 1) { req.socket.destroy(); return }
    answered++
    req.socket.write(OK)
  })
  const client = newClient(t)
  t.equal((await client.post(`${server.url}/h`, PAYLOAD, POST)).attempts, 1)
  const r = await client.post(`${server.url}/h`, PAYLOAD, POST)
  t.equal(r.status, 200)
  t.equal(r.attempts, 2)
  t.equal(answered, 2, 'answered once per post')
  t.equal(server.connections(), 2)
})

t.test('a server that resets mid-reply: ERR_HOOK_FAILED, not retried', async t => {
  const server = await startRawServer(t, req => {
    req.socket.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial', () => {
      setTimeout(() => { req.socket.resetAndDestroy() }, 10)
    })
  })
  const client = newClient(t)
  await t.rejects(client.post(`${server.url}/h`, PAYLOAD, POST), { code: 'ERR_HOOK_FAILED', message: /reply cut short/ })
  t.equal(server.requests.length, 1, 'one request seen')
})

t.test('a server that closes after part of the head: ERR_HOOK_FAILED, not retried', async t => {
  const server = await startRawServer(t, req => { req.socket.end('HTTP/1.1 200 OK\r\nContent-Le') })
  const client = newClient(t)
  await t.rejects(client.post(`${server.url}/h`, PAYLOAD, POST), { code: 'ERR_HOOK_FAILED', message: /reply cut short/ })
  t.equal(server.requests.length, 1)
})

t.test('a server that hangs up before any reply byte, every time: retried, then ERR_HOOK_UNREACHABLE', async t => {
  const server = await startRawServer(t, req => { req.socket.end() })
  const client = newClient(t)
  await t.rejects(client.post(`${server.url}/h`, PAYLOAD, POST), { code: 'ERR_HOOK_UNREACHABLE', attempts: 3, message: /ECONNRESET/ })
  t.equal(server.requests.length, 3)
})

t.test('invalid replies fail with ERR_HOOK_FAILED, not retried, and the socket is closed', async t => {
  const replies = {
    'oversized headers': `HTTP/1.1 200 OK\r\nX-Big: ${'b'.repeat(MAX_HEADER_BYTES)}\r\nContent-Length: 0\r\n\r\n`,
    'malformed status line': 'HTTP/1.1 OK 200\r\nContent-Length: 0\r\n\r\n',
    'conflicting Content-Length': 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nok'
  }
  for (const [what, reply] of Object.entries(replies)) {
    await t.test(what, async t => {
      const server = await startRawServer(t, req => { req.socket.write(reply) })
      const client = newClient(t)
      const err = await client.post(`${server.url}/h`, PAYLOAD, POST).then(() => undefined, (e: Error) => e)
      t.match(err, { code: 'ERR_HOOK_FAILED', message: /invalid reply/, cause: { code: 'ERR_HTTP_REPLY_INVALID' } })
      t.equal(server.requests.length, 1, 'not retried')
      await until(() => server.sockets.size === 0)
      t.pass('socket closed')
    })
  }
})

t.test('a reply larger than maxReplyBytes: the limit kept, the rest drained, the socket reused', async t => {
  const big = Buffer.alloc(300 * 1024, 'x')
  const server = await startRawServer(t, req => {
    req.socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${big.length}\r\n\r\n`)
    req.socket.write(big)
  })
  const client = newClient(t)
  const r1 = await client.post(`${server.url}/h`, PAYLOAD, { ...POST, maxReplyBytes: 1000 })
  t.equal(r1.body.length, 1000)
  const r2 = await client.post(`${server.url}/h`, PAYLOAD, POST)
  t.equal(r2.body.length, 64 * 1024, 'default limit 64 KiB')
  t.equal(server.connections(), 1)
})

t.test('at the socket limit posts queue and are served first in, first out', async t => {
  const server = await startRawServer(t, req => { setTimeout(() => { req.socket.write(OK) }, 5) })
  const client = newClient(t, { maxSockets: 1 })
  const bodies = Array.from({ length: 6 }, (_, i) => Buffer.from(`{"n":${i}}`))
  const results = await Promise.all(bodies.map(b => client.post(`${server.url}/h`, b, POST)))
  t.same(results.map(r => r.status), [200, 200, 200, 200, 200, 200])
  t.same(server.requests.map(r => r.body.toString()), bodies.map(b => b.toString()), 'in the order posted')
  t.equal(server.connections(), 1)

  const wide = await startRawServer(t, req => { setTimeout(() => { req.socket.write(OK) }, 5) })
  const client3 = newClient(t, { maxSockets: 3 })
  const many = await Promise.all(Array.from({ length: 60 }, () => client3.post(`${wide.url}/h`, PAYLOAD, POST)))
  t.equal(many.filter(r => r.status === 200).length, 60)
  t.equal(wide.connections(), 3, 'never more sockets than the limit')
})

t.test('a freed slot goes to a queued post when a socket closes', async t => {
  const server = await startRawServer(t, req => { req.socket.end(`HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n${req.body.toString().slice(6, 8)}`) })
  const client = newClient(t, { maxSockets: 1 })
  const results = await Promise.all([0, 1, 2].map(i => client.post(`${server.url}/h`, Buffer.from(`{"n":"${i}a"}`), POST)))
  t.same(results.map(r => r.body.toString()), ['0a', '1a', '2a'])
  t.equal(server.connections(), 3)
})

t.test('an idle socket is closed after keepAliveMs', async t => {
  const server = await startRawServer(t, req => { req.socket.write(OK) })
  const client = newClient(t, { keepAliveMs: 100 })
  await client.post(`${server.url}/h`, PAYLOAD, POST)
  await delay(50)
  await client.post(`${server.url}/h`, PAYLOAD, POST)
  t.equal(server.sockets.size, 1, 'kept while used')
  const idleFrom = Date.now()
  await until(() => server.sockets.size === 0)
  const idleMs = Date.now() - idleFrom
  t.ok(idleMs >= 80 && idleMs < 1000, `closed after ${idleMs} ms idle`)
  const r = await client.post(`${server.url}/h`, PAYLOAD, POST)
  t.equal(r.attempts, 1)
  t.equal(server.connections(), 2)
})

t.test('close() fails posts in flight and queued with ERR_HOOK_FAILED and closes the sockets', async t => {
  const server = await startRawServer(t, () => {})
  const client = newClient(t, { maxSockets: 1 })
  const posts = [0, 1, 2].map(() => client.post(`${server.url}/h`, PAYLOAD, { timeoutMs: 5000, retries: 3 }))
  await until(() => server.requests.length === 1)
  const start = Date.now()
  client.close()
  for (const p of posts) await t.rejects(p, { code: 'ERR_HOOK_FAILED', message: /client closed/ })
  t.ok(Date.now() - start < 1000, 'at once')
  await until(() => server.sockets.size === 0)
  t.equal(server.requests.length, 1, 'the queued posts never went out')
})

t.test('an idle pooled socket does not hold the process open', async t => {
  const server = await startRawServer(t, req => { req.socket.write(OK) })
  const fixture = fileURLToPath(new URL('../fixtures/hook-client-exits.ts', import.meta.url))
  const child = spawn(process.execPath, [...process.execArgv.filter(a => a.includes('typescript')), fixture, `${server.url}/h`], {
    stdio: ['ignore', 'pipe', 'inherit']
  })
  const killer = setTimeout(() => child.kill('SIGKILL'), 8000)
  t.teardown(() => { clearTimeout(killer); child.kill('SIGKILL') })
  let out = ''
  child.stdout.on('data', c => { out += c })
  const [code, signal] = await once(child, 'exit')
  t.equal(signal, null, 'exited by itself, not killed')
  t.equal(code, 0)
  t.same(JSON.parse(out), { statuses: [200, 200] })
  t.equal(server.connections(), 1, 'the socket was pooled, and reused')
})

t.test('host names and IPv6 literals', async t => {
  const server = await startRawServer(t, req => { req.socket.write(OK) })
  const client = newClient(t)
  const r = await client.post(`http://localhost:${server.port}/h`, PAYLOAD, POST)
  t.equal(r.status, 200)
  t.match(server.requests[0]?.head, `\r\nHost: localhost:${server.port}\r\n`)

  const v6 = net.createServer(s => {
    s.on('error', () => {})
    s.once('data', (chunk: Buffer) => {
      heads.push(chunk.toString('latin1'))
      s.end(OK)
    })
  })
  const heads: string[] = []
  const listening = await new Promise<boolean>(resolve => {
    v6.once('error', () => { resolve(false) })
    v6.listen(0, '::1', () => { resolve(true) })
  })
  if (!listening) {
    t.comment('no IPv6 loopback here: skipped')
    return
  }
  t.teardown(() => { v6.close() })
  const port = (v6.address() as AddressInfo).port
  const r6 = await client.post(`http://[::1]:${port}/h6`, PAYLOAD, POST)
  t.equal(r6.status, 200)
  t.match(heads[0], `POST /h6 HTTP/1.1\r\nHost: [::1]:${port}\r\n`)
})

t.test('invalid headers, Host and Transfer-Encoding are refused before any connection', async t => {
  const server = await startRawServer(t, req => { req.socket.write(OK) })
  const client = newClient(t)
  for (const headers of [{ 'x-bad': 'a\nb' }, { 'x-bad': 'a\u0000b' }, { 'x-bad': '\u0100' }, { 'bad name': 'x' }, { '': 'x' },
    { Host: 'elsewhere' }, { 'transfer-encoding': 'chunked' }]) {
    await t.rejects(client.post(`${server.url}/h`, PAYLOAD, { ...POST, headers }), { code: 'ERR_HOOK_FAILED', message: /invalid request/ },
      JSON.stringify(headers))
  }
  t.equal(server.connections(), 0)
  const r = await client.post(`${server.url}/h`, PAYLOAD, { ...POST, headers: { 'x-ok': 'tab\tand \u00e9 latin1' } })
  t.equal(r.status, 200)
  t.match(server.requests[0]?.head, '\r\nx-ok: tab\tand \u00e9 latin1\r\n')
})

t.test('a large body is delivered byte-exact, in order with small ones on the same socket', async t => {
  const server = await startRawServer(t, req => { req.socket.write(OK) })
  const client = newClient(t, { maxSockets: 1 })
  const large = Buffer.alloc(300 * 1024)
  for (let i = 0; i < large.length; i++) large[i] = 0x41 + (i % 26)
  const bodies = [PAYLOAD, large, PAYLOAD, large.subarray(0, 16 * 1024 + 1), Buffer.alloc(0)]
  const results = await Promise.all(bodies.map(b => client.post(`${server.url}/h`, b, POST)))
  t.same(results.map(r => r.status), [200, 200, 200, 200, 200])
  t.equal(server.requests.length, bodies.length)
  server.requests.forEach((req, i) => {
    t.ok(req.body.equals(bodies[i] as Buffer), `body ${i} byte-exact (${req.body.length} B)`)
    t.match(req.head, `\r\nContent-Length: ${(bodies[i] as Buffer).length}\r\n`)
  })
  t.equal(server.connections(), 1)
})
