import t from 'tap'
import { spawn } from 'node:child_process'
import { existsSync, lstatSync, mkdirSync, statSync, unlinkSync, writeFileSync, readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { once } from 'node:events'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { UnixServer } from '../../src/net/unix-server.js'
import { exchange } from '../../src/net/unix-client.js'
import {
  codeAck, frameOf, makeStaleSocket, rawPeer, singleFrame, sleep, sockDir, startServer
} from '../fixtures/net-helpers.js'

const echo = async (p: Buffer): Promise<Buffer> => Buffer.concat([Buffer.from('ack:'), p])
const opts = { timeoutMs: 2000 }

t.test('round trip, creating missing directories and applying the modes', async t => {
  const dir = sockDir(t)
  const path = join(dir, 'a', 'b', 's.sock')
  const server = await startServer(t, { path, handle: echo, dirMode: 0o700, socketMode: 0o600 })
  t.equal(server.path, path)
  const answer = await exchange(path, Buffer.from('{"id":"1"}'), opts)
  t.equal(answer.toString(), 'ack:{"id":"1"}')
  t.ok(lstatSync(path).isSocket())
  t.equal(statSync(path).mode & 0o777, 0o600)
  t.equal(statSync(join(dir, 'a', 'b')).mode & 0o777, 0o700)
  t.equal(server.openExchanges, 0)
})

t.test('the default socket mode is 0660', async t => {
  const path = join(sockDir(t), 's.sock')
  await startServer(t, { path, handle: echo })
  t.equal(statSync(path).mode & 0o777, 0o660)
})

t.test('500 concurrent exchanges each get their own answer', async t => {
  const path = join(sockDir(t), 's.sock')
  await startServer(t, {
    path,
    handle: async p => {
      // answer out of order
      await sleep(Math.floor(Math.random() * 20))
      return Buffer.concat([Buffer.from('re:'), p])
    }
  })
  const answers = await Promise.all(Array.from({ length: 500 }, (_, i) =>
    exchange(path, Buffer.from(`req-${i}-${'x'.repeat(i)}`), { timeoutMs: 10_000 })))
  let good = 0
  answers.forEach((a, i) => { if (a.toString() === `re:req-${i}-${'x'.repeat(i)}`) good++ })
  t.equal(good, 500)
})

t.test('garbage forming an over-limit header gets the errorAck, then the connection closes', async t => {
  const path = join(sockDir(t), 's.sock')
  let called = 0
  const server = await startServer(t, {
    path,
    maxFrameBytes: 1024,
    handle: async p => { called++; return p },
    errorAck: codeAck
  })
  const res = await rawPeer(path, [Buffer.from('GET / HTTP/1.1\r\n\r\n')])
  t.equal(singleFrame(res.data), 'error:ERR_FRAME_TOO_LARGE')
  t.equal(called, 0)
  t.equal(server.openExchanges, 0)
  t.equal((await exchange(path, Buffer.from('ok'), opts)).toString(), 'ok', 'server still serves')
})

t.test('an over-limit header without errorAck just closes', async t => {
  const path = join(sockDir(t), 's.sock')
  await startServer(t, { path, maxFrameBytes: 4, handle: async p => p })
  const res = await rawPeer(path, [Buffer.from([0, 0, 0, 5])])
  t.equal(res.data.length, 0)
})

t.test('a silent peer is closed after readTimeoutMs while others keep working', async t => {
  const path = join(sockDir(t), 's.sock')
  await startServer(t, { path, readTimeoutMs: 100, handle: echo, errorAck: codeAck })
  const silent = rawPeer(path, [Buffer.alloc(0)])
  const partial = rawPeer(path, [Buffer.from([0, 0, 0, 9, 1, 2])])
  await sleep(20)
  const others = await Promise.all([1, 2, 3].map(i => exchange(path, Buffer.from(String(i)), opts)))
  t.same(others.map(String), ['ack:1', 'ack:2', 'ack:3'])
  for (const res of [await silent, await partial]) {
    t.equal(singleFrame(res.data), 'error:ERR_READ_TIMEOUT')
    t.ok(res.ms >= 90 && res.ms < 1500, `closed after ${res.ms} ms`)
  }
})

t.test('a header split across two writes 300 ms apart is still served', async t => {
  const path = join(sockDir(t), 's.sock')
  await startServer(t, { path, readTimeoutMs: 2000, handle: echo })
  const frame = frameOf('slow')
  const res = await rawPeer(path, [frame.subarray(0, 2), frame.subarray(2)], 300)
  t.ok(res.ms >= 290)
  t.equal(singleFrame(res.data), 'ack:slow')
})

t.test('a peer that half-closes right after its frame still gets the answer', async t => {
  const path = join(sockDir(t), 's.sock')
  await startServer(t, { path, handle: async p => { await sleep(30); return p } })
  const { connect } = await import('node:net')
  const socket = connect({ path })
  t.teardown(() => socket.destroy())
  const chunks: Buffer[] = []
  socket.on('data', c => chunks.push(c))
  socket.end(frameOf('half'))
  await once(socket, 'close')
  t.equal(singleFrame(Buffer.concat(chunks)), 'half')
})

t.test('a peer that ends mid-frame is closed quietly, the handler never runs', async t => {
  const path = join(sockDir(t), 's.sock')
  let called = 0
  let acks = 0
  const server = await startServer(t, {
    path,
    handle: async p => { called++; return p },
    errorAck: e => { acks++; return codeAck(e) }
  })
  const { connect } = await import('node:net')
  for (const bytes of [Buffer.from([0, 0]), frameOf('truncated').subarray(0, 8), Buffer.alloc(0)]) {
    const socket = connect({ path })
    const chunks: Buffer[] = []
    socket.on('data', c => chunks.push(c))
    socket.end(bytes)
    await once(socket, 'close')
    t.equal(Buffer.concat(chunks).length, 0, 'no answer')
  }
  t.equal(called, 0)
  t.equal(acks, 0)
  t.equal(server.openExchanges, 0)
})

t.test('bytes after the first frame are ignored: one exchange per connection', async t => {
  const path = join(sockDir(t), 's.sock')
  const seen: string[] = []
  await startServer(t, { path, handle: async p => { seen.push(p.toString()); return p }, errorAck: codeAck })
  const res = await rawPeer(path, [Buffer.concat([frameOf('one'), frameOf('two'), Buffer.from([0xff, 0xff, 0xff, 0xff])])])
  t.equal(singleFrame(res.data), 'one')
  t.same(seen, ['one'])
})

t.test('a handler that throws or rejects gets the errorAck; without errorAck the peer sees a close', async t => {
  const dir = sockDir(t)
  const fail = (async (p: Buffer) => {
    if (p.toString() === 'sync') throw Object.assign(new Error('sync'), { code: 'ERR_SYNC' })
    throw Object.assign(new Error('async'), { code: 'ERR_ASYNC' })
  })
  const withAck = join(dir, 'a.sock')
  await startServer(t, { path: withAck, handle: fail, errorAck: codeAck })
  t.equal((await exchange(withAck, Buffer.from('async'), opts)).toString(), 'error:ERR_ASYNC')
  // a handler that throws before returning a promise
  const syncPath = join(dir, 'b.sock')
  await startServer(t, {
    path: syncPath,
    handle: (() => { throw Object.assign(new Error('x'), { code: 'ERR_SYNC' }) }) as unknown as (p: Buffer) => Promise<Buffer>,
    errorAck: codeAck
  })
  t.equal((await exchange(syncPath, Buffer.from('x'), opts)).toString(), 'error:ERR_SYNC')
  const noAck = join(dir, 'c.sock')
  await startServer(t, { path: noAck, handle: fail })
  await t.rejects(exchange(noAck, Buffer.from('async'), opts), { code: 'ERR_CONNECTION_CLOSED' })
  // an errorAck that throws itself: the peer just sees a close
  const badAck = join(dir, 'd.sock')
  await startServer(t, { path: badAck, handle: fail, errorAck: () => { throw new Error('worse') } })
  await t.rejects(exchange(badAck, Buffer.from('async'), opts), { code: 'ERR_CONNECTION_CLOSED' })
})

t.test('a handler answering something other than a Buffer is a handler error', async t => {
  const path = join(sockDir(t), 's.sock')
  await startServer(t, {
    path,
    handle: (async () => 'text') as unknown as (p: Buffer) => Promise<Buffer>,
    errorAck: e => Buffer.from(e.name)
  })
  t.equal((await exchange(path, Buffer.from('x'), opts)).toString(), 'TypeError')
})

t.test('a peer that resets during the handler affects nobody else', async t => {
  const path = join(sockDir(t), 's.sock')
  const server = await startServer(t, { path, handle: async p => { await sleep(100); return Buffer.alloc(256 * 1024, p[0]) } })
  const { connect } = await import('node:net')
  for (let i = 0; i < 5; i++) {
    const socket = connect({ path })
    socket.on('error', () => {})
    socket.write(frameOf('r'))
    setTimeout(() => socket.destroy(), 20).unref()
  }
  const answer = await exchange(path, Buffer.from('k'), opts)
  t.equal(answer.length, 256 * 1024)
  t.equal(answer[0], 'k'.charCodeAt(0))
  await sleep(50)
  t.equal(server.openExchanges, 0)
})

t.test('a stale socket file left by a killed process is replaced', async t => {
  const path = join(sockDir(t), 's.sock')
  await makeStaleSocket(path)
  t.ok(lstatSync(path).isSocket(), 'the stale file is there')
  await t.rejects(exchange(path, Buffer.from('x'), opts), { code: 'ERR_CONNECTION_REFUSED' })
  await startServer(t, { path, handle: echo })
  t.equal((await exchange(path, Buffer.from('x'), opts)).toString(), 'ack:x')
})

t.test('a live socket is not stolen: ERR_SOCKET_IN_USE, the first server keeps working', async t => {
  const path = join(sockDir(t), 's.sock')
  const first = await startServer(t, { path, handle: echo })
  const ino = lstatSync(path).ino
  const second = new UnixServer({ path, handle: async () => Buffer.from('thief') })
  t.teardown(() => second.close())
  await t.rejects(second.listen(), { code: 'ERR_SOCKET_IN_USE' })
  t.equal(lstatSync(path).ino, ino, 'same socket file')
  t.equal((await exchange(path, Buffer.from('x'), opts)).toString(), 'ack:x')
  await second.close()
  t.equal(lstatSync(path).ino, ino, 'closing the refused server leaves the file alone')
  t.equal(first.openExchanges, 0)
})

t.test('a socket served by a plain net server (another process) is in use too', async t => {
  const path = join(sockDir(t), 's.sock')
  const other = createServer(s => s.destroy())
  other.listen(path)
  await once(other, 'listening')
  t.teardown(() => new Promise<void>(resolve => { other.close(() => resolve()) }))
  const server = new UnixServer({ path, handle: echo })
  await t.rejects(server.listen(), { code: 'ERR_SOCKET_IN_USE' })
})

t.test('a non-socket file at the path is refused and left alone', async t => {
  const dir = sockDir(t)
  const path = join(dir, 's.sock')
  writeFileSync(path, 'precious')
  const server = new UnixServer({ path, handle: echo })
  await t.rejects(server.listen(), { code: 'ERR_NOT_A_SOCKET' })
  t.equal(readFileSync(path, 'utf8'), 'precious')
  const dirPath = join(dir, 'd.sock')
  mkdirSync(dirPath)
  await t.rejects(new UnixServer({ path: dirPath, handle: echo }).listen(), { code: 'ERR_NOT_A_SOCKET' })
})

t.test('a path over 107 bytes is refused before touching the file system', async t => {
  const dir = sockDir(t)
  const path = join(dir, 'x'.repeat(120 - dir.length), 's.sock')
  await t.rejects(new UnixServer({ path, handle: echo }).listen(), { code: 'ERR_SOCKET_PATH_TOO_LONG' })
  t.notOk(existsSync(join(dir, 'x'.repeat(120 - dir.length))), 'no directory created')
})

t.test('a path near the limit works (bound directly, no temporary name)', async t => {
  const dir = sockDir(t)
  const path = join(dir, 'n'.repeat(107 - dir.length - 1))
  t.equal(Buffer.byteLength(path), 107)
  await startServer(t, { path, handle: echo })
  t.equal((await exchange(path, Buffer.from('edge'), opts)).toString(), 'ack:edge')
})

t.test('listen() twice is refused', async t => {
  const path = join(sockDir(t), 's.sock')
  const server = await startServer(t, { path, handle: echo })
  await t.rejects(server.listen(), { code: 'ERR_SERVER_STATE' })
})

t.test('close() waits for an in-flight handler, drops idle peers, removes the socket file', async t => {
  const path = join(sockDir(t), 's.sock')
  const server = await startServer(t, {
    path,
    closeTimeoutMs: 3000,
    handle: async p => { await sleep(300); return p }
  })
  const idle = rawPeer(path, [Buffer.alloc(0)])
  const slow = exchange(path, Buffer.from('slow'), opts)
  while (server.openExchanges === 0) await sleep(5)
  t.equal(server.openExchanges, 1)
  const start = Date.now()
  const closing = server.close()
  t.equal(server.close(), closing, 'idempotent')
  const idleRes = await idle
  t.ok(idleRes.ms < 250, 'the idle peer is dropped at once')
  // refused (listener gone) or not found (file already removed): either way, no new exchange
  await t.rejects(exchange(path, Buffer.from('late'), opts), { code: /^ERR_(CONNECTION_REFUSED|SOCKET_NOT_FOUND)$/ }, 'no new exchanges')
  t.equal((await slow).toString(), 'slow')
  await closing
  t.ok(Date.now() - start >= 200, 'close waited for the handler')
  t.equal(server.openExchanges, 0)
  t.notOk(existsSync(path), 'socket file removed')
  await server.close()
})

t.test('close() gives up on a handler slower than closeTimeoutMs', async t => {
  const path = join(sockDir(t), 's.sock')
  const server = await startServer(t, {
    path,
    closeTimeoutMs: 100,
    handle: async p => { await sleep(1000); return p }
  })
  const stuck = t.rejects(exchange(path, Buffer.from('stuck'), { timeoutMs: 3000 }), { code: 'ERR_CONNECTION_CLOSED' })
  while (server.openExchanges === 0) await sleep(5)
  const start = Date.now()
  await server.close()
  const ms = Date.now() - start
  t.ok(ms >= 90 && ms < 800, `closed after ${ms} ms`)
  await stuck
  t.equal(server.openExchanges, 0)
})

t.test('close() leaves a socket that another server re-created at the path', async t => {
  const path = join(sockDir(t), 's.sock')
  const server = await startServer(t, { path, handle: echo })
  unlinkSync(path)
  const other = await startServer(t, { path, handle: async () => Buffer.from('other') })
  const ino = lstatSync(path).ino
  await server.close()
  t.ok(existsSync(path), 'still there')
  t.equal(lstatSync(path).ino, ino)
  t.equal((await exchange(path, Buffer.from('x'), opts)).toString(), 'other')
  await other.close()
  t.notOk(existsSync(path))
})

t.test('close() before listen() resolves, and listen() after close() is refused', async t => {
  const server = new UnixServer({ path: join(sockDir(t), 's.sock'), handle: echo })
  await server.close()
  await t.rejects(server.listen(), { code: 'ERR_SERVER_STATE' })
})

t.test('after close() nothing keeps the process alive', async t => {
  const dir = sockDir(t)
  const fixture = fileURLToPath(new URL('../fixtures/net-close-exits.ts', import.meta.url))
  const child = spawn(process.execPath, [...process.execArgv.filter(a => a.includes('typescript')), fixture, dir], {
    stdio: ['ignore', 'pipe', 'inherit']
  })
  const killer = setTimeout(() => child.kill('SIGKILL'), 8000)
  t.teardown(() => { clearTimeout(killer); child.kill('SIGKILL') })
  let out = ''
  child.stdout.on('data', c => { out += c })
  const [code, signal] = await once(child, 'exit')
  t.equal(signal, null, 'exited by itself, not killed')
  t.equal(code, 0)
  t.same(JSON.parse(out), { answers: ['ack:0', 'ack:1', 'ack:2'], socketLeft: false, open: 0 })
})
