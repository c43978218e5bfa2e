import t from 'tap'
import { existsSync, statSync, writeFileSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { join } from 'node:path'
import { once } from 'node:events'
import { listenOnce } from '../../src/net/stream-socket.js'
import { makeStaleSocket, rawServer, sockDir } from '../fixtures/net-helpers.js'

/** Connects and resolves with everything read until the end, or rejects with the connect error. */
function readAll (path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(path)
    const chunks: Buffer[] = []
    socket.on('data', (c: Buffer) => chunks.push(c))
    socket.on('error', reject)
    socket.on('end', () => { socket.destroy(); resolve(Buffer.concat(chunks).toString()) })
  })
}

function connectError (path: string): Promise<string | undefined> {
  return new Promise(resolve => {
    const socket = connect(path)
    socket.on('connect', () => { socket.destroy(); resolve(undefined) })
    socket.on('error', (err: NodeJS.ErrnoException) => { resolve(err.code) })
  })
}

t.test('accepts one connection, hands it over, and removes the socket file at once', async t => {
  const dir = sockDir(t)
  const path = join(dir, 'a', 'b', 'one.sock')
  const shot = await listenOnce({ path, ttlMs: 5000 }, socket => { socket.end('hello') })
  t.teardown(() => shot.close())
  t.equal(shot.path, path)
  t.ok(statSync(path).isSocket(), 'parents created, socket in place')
  t.equal(await readAll(path), 'hello')
  t.equal(await shot.done, 'used')
  t.notOk(existsSync(path), 'removed after use')
  t.equal(await connectError(path), 'ENOENT', 'nobody can connect a second time')
})

t.test('an unused socket is removed after its time to live', async t => {
  const dir = sockDir(t)
  const path = join(dir, 'ttl.sock')
  let called = false
  const started = Date.now()
  const shot = await listenOnce({ path, ttlMs: 150 }, () => { called = true })
  t.ok(existsSync(path))
  t.equal(await shot.done, 'expired')
  t.ok(Date.now() - started >= 140, 'not before its time')
  t.notOk(existsSync(path), 'removed')
  t.equal(await connectError(path), 'ENOENT')
  t.notOk(called)
})

t.test('close() removes an unused socket; it is idempotent', async t => {
  const dir = sockDir(t)
  const path = join(dir, 'closed.sock')
  const shot = await listenOnce({ path, ttlMs: 60_000 }, () => {})
  shot.close()
  shot.close()
  t.equal(await shot.done, 'closed')
  t.notOk(existsSync(path))
})

t.test('close() after use leaves the handed-over connection alone', async t => {
  const dir = sockDir(t)
  const path = join(dir, 'kept.sock')
  let server: Socket | undefined
  const shot = await listenOnce({ path, ttlMs: 60_000 }, socket => { server = socket })
  const client = connect(path)
  t.teardown(() => { client.destroy(); server?.destroy() })
  await once(client, 'connect')
  t.equal(await shot.done, 'used')
  shot.close()
  t.equal(await shot.done, 'used', 'the end does not change')
  server?.write('still here')
  const [chunk] = await once(client, 'data') as [Buffer]
  t.equal(chunk.toString(), 'still here')
})

t.test('a second peer racing the first is turned away', async t => {
  const dir = sockDir(t)
  const path = join(dir, 'race.sock')
  let handed = 0
  const shot = await listenOnce({ path, ttlMs: 60_000 }, socket => { handed++; socket.end('yours') })
  // Both connects reach the backlog before the accept callback runs.
  const results = await Promise.allSettled([readAll(path), readAll(path), readAll(path)])
  t.equal(await shot.done, 'used')
  t.equal(handed, 1, 'exactly one connection handed over')
  const served = results.filter(r => r.status === 'fulfilled' && r.value === 'yours')
  t.equal(served.length, 1, 'one peer got the stream, the others got nothing')
})

t.test('socket mode is applied before anyone can connect', async t => {
  const dir = sockDir(t)
  const path = join(dir, 'mode.sock')
  const shot = await listenOnce({ path, ttlMs: 60_000, socketMode: 0o600 }, () => {})
  t.teardown(() => shot.close())
  t.equal(statSync(path).mode & 0o777, 0o600)
})

t.test('a stale socket file is replaced; a live one is refused', async t => {
  const dir = sockDir(t)
  const stale = join(dir, 'stale.sock')
  await makeStaleSocket(stale)
  const shot = await listenOnce({ path: stale, ttlMs: 60_000 }, socket => { socket.end('fresh') })
  t.equal(await readAll(stale), 'fresh')
  t.equal(await shot.done, 'used')

  const live = join(dir, 'live.sock')
  await rawServer(t, live, socket => { socket.end() })
  await t.rejects(listenOnce({ path: live, ttlMs: 1000 }, () => {}), { code: 'ERR_SOCKET_IN_USE' })
  t.ok(existsSync(live), 'the live socket is untouched')

  const file = join(dir, 'plain')
  writeFileSync(file, 'x')
  await t.rejects(listenOnce({ path: file, ttlMs: 1000 }, () => {}), { code: 'ERR_NOT_A_SOCKET' })
})

t.test('a path too long for sun_path is refused before anything is created', async t => {
  const dir = sockDir(t)
  const path = join(dir, 'x'.repeat(120) + '.sock')
  await t.rejects(listenOnce({ path, ttlMs: 1000 }, () => {}), { code: 'ERR_SOCKET_PATH_TOO_LONG' })
})

t.test('a handler that throws costs the peer its connection, nothing more', async t => {
  const dir = sockDir(t)
  const path = join(dir, 'throw.sock')
  const shot = await listenOnce({ path, ttlMs: 60_000 }, () => { throw new Error('boom') })
  t.equal(await readAll(path), '', 'the peer sees the connection close')
  t.equal(await shot.done, 'used')
  t.notOk(existsSync(path))
})

t.test('a path of exactly the longest length binds directly (no room for a temporary name)', async t => {
  const dir = sockDir(t)
  const room = 107 - Buffer.byteLength(dir) - 1
  const path = join(dir, 'y'.repeat(room - 5) + '.sock')
  t.equal(Buffer.byteLength(path), 107)
  const shot = await listenOnce({ path, ttlMs: 60_000, socketMode: 0o600 }, socket => { socket.end('direct') })
  t.equal(statSync(path).mode & 0o777, 0o600)
  t.equal(await readAll(path), 'direct')
  t.equal(await shot.done, 'used')
  t.notOk(existsSync(path))
})
