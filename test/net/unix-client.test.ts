import t from 'tap'
import { join } from 'node:path'
import { exchange } from '../../src/net/unix-client.js'
import { FrameDecoder } from '../../src/net/frame.js'
import { frameOf, makeStaleSocket, rawServer, sleep, sockDir } from '../fixtures/net-helpers.js'

const opts = { timeoutMs: 2000 }

t.test('an answer split across writes is reassembled', async t => {
  const path = join(sockDir(t), 's.sock')
  const received: Buffer[] = []
  await rawServer(t, path, socket => {
    const decoder = new FrameDecoder({
      onFrame: p => {
        received.push(p)
        const answer = frameOf('{"error":""}')
        socket.write(answer.subarray(0, 3))
        setTimeout(() => socket.write(answer.subarray(3, 7)), 30).unref()
        setTimeout(() => socket.end(answer.subarray(7)), 60).unref()
      }
    })
    socket.on('data', c => decoder.push(c))
  })
  const answer = await exchange(path, Buffer.from('{"id":"x"}'), opts)
  t.equal(answer.toString(), '{"error":""}')
  t.same(received.map(String), ['{"id":"x"}'], 'the request arrived as one frame')
})

t.test('the answer is taken as soon as its frame is whole, even if the server keeps the connection', async t => {
  const path = join(sockDir(t), 's.sock')
  let closedByClient = false
  await rawServer(t, path, socket => {
    socket.once('data', () => socket.write(frameOf('early')))
    socket.on('close', () => { closedByClient = true })
  })
  t.equal((await exchange(path, Buffer.from('x'), opts)).toString(), 'early')
  await sleep(50)
  t.ok(closedByClient, 'the client closed the connection')
})

t.test('a missing socket is ERR_SOCKET_NOT_FOUND', async t => {
  const dir = sockDir(t)
  await t.rejects(exchange(join(dir, 'none.sock'), Buffer.from('x'), opts), { code: 'ERR_SOCKET_NOT_FOUND' })
  await t.rejects(exchange(join(dir, 'no', 'dir.sock'), Buffer.from('x'), opts), { code: 'ERR_SOCKET_NOT_FOUND' })
})

t.test('a stale socket file is ERR_CONNECTION_REFUSED', async t => {
  const path = join(sockDir(t), 's.sock')
  await makeStaleSocket(path)
  const err = await exchange(path, Buffer.from('x'), opts).then(() => undefined, (e: unknown) => e)
  t.match(err, { code: 'ERR_CONNECTION_REFUSED', cause: { code: 'ECONNREFUSED' } })
})

t.test('a server that closes without answering is ERR_CONNECTION_CLOSED', async t => {
  const path = join(sockDir(t), 's.sock')
  await rawServer(t, path, socket => { socket.once('data', () => socket.end()) })
  await t.rejects(exchange(path, Buffer.from('x'), opts), { code: 'ERR_CONNECTION_CLOSED' })
  const resetPath = join(sockDir(t), 'r.sock')
  await rawServer(t, resetPath, socket => { socket.once('data', () => socket.destroy()) })
  await t.rejects(exchange(resetPath, Buffer.from('x'), opts), { code: 'ERR_CONNECTION_CLOSED' })
})

t.test('a server that ends mid-frame is ERR_CONNECTION_CLOSED with the truncation detail', async t => {
  const path = join(sockDir(t), 's.sock')
  await rawServer(t, path, socket => { socket.once('data', () => socket.end(frameOf('cut short').subarray(0, 6))) })
  const err = await exchange(path, Buffer.from('x'), opts).then(() => undefined, (e: unknown) => e)
  t.match(err, { code: 'ERR_CONNECTION_CLOSED' })
  t.match((err as Error).message, /ERR_FRAME_TRUNCATED/)
})

t.test('a server that never answers is ERR_EXCHANGE_TIMEOUT and the socket is destroyed', async t => {
  const path = join(sockDir(t), 's.sock')
  let serverSawClose = false
  await rawServer(t, path, socket => {
    socket.resume()
    socket.on('close', () => { serverSawClose = true })
  })
  const start = Date.now()
  await t.rejects(exchange(path, Buffer.from('x'), { timeoutMs: 150 }), { code: 'ERR_EXCHANGE_TIMEOUT' })
  const ms = Date.now() - start
  t.ok(ms >= 140 && ms < 1000, `gave up after ${ms} ms`)
  await sleep(50)
  t.ok(serverSawClose, 'the connection is gone')
})

t.test('an answer over the limit is ERR_FRAME_TOO_LARGE, refused at its header', async t => {
  const path = join(sockDir(t), 's.sock')
  await rawServer(t, path, socket => {
    // declares 1000 bytes and sends only the header: the client must not wait for the body
    socket.once('data', () => socket.write(Buffer.from([0, 0, 3, 0xe8])))
  })
  await t.rejects(exchange(path, Buffer.from('x'), { timeoutMs: 2000, maxFrameBytes: 999 }), { code: 'ERR_FRAME_TOO_LARGE' })
  await t.rejects(exchange(path, Buffer.from('x'), { timeoutMs: 150, maxFrameBytes: 1000 }), { code: 'ERR_EXCHANGE_TIMEOUT' },
    'at the limit it waits for the body')
})

t.test('a path over 107 bytes is ERR_SOCKET_PATH_TOO_LONG', async t => {
  const dir = sockDir(t)
  const path = join(dir, 'p'.repeat(108 - dir.length))
  t.ok(Buffer.byteLength(path) > 107)
  await t.rejects(exchange(path, Buffer.from('x'), opts), { code: 'ERR_SOCKET_PATH_TOO_LONG' })
  // multi-byte characters count as bytes, not as characters
  const wide = join(dir, 'é'.repeat(60))
  t.ok(wide.length <= 107 && Buffer.byteLength(wide) > 107)
  await t.rejects(exchange(wide, Buffer.from('x'), opts), { code: 'ERR_SOCKET_PATH_TOO_LONG' })
})

// root bypasses the permission check this needs
t.test('a connect failure other than ENOENT/ECONNREFUSED is ERR_CONNECT_FAILED', { skip: process.getuid?.() === 0 }, async t => {
  const { chmodSync } = await import('node:fs')
  const path = join(sockDir(t), 's.sock')
  await rawServer(t, path, socket => socket.destroy())
  chmodSync(path, 0)
  await t.rejects(exchange(path, Buffer.from('x'), opts), { code: 'ERR_CONNECT_FAILED' })
})
