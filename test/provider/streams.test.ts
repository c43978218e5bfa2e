import t from 'tap'
import { createHash, randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { createServer as createHttpServer, type Server } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { join } from 'node:path'
import { PassThrough, Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { goUrl, post, startCoordinator } from '../fixtures/coordinator.js'
import { startHttpHook, startUnixHook } from '../fixtures/hook-sink.js'
import { gate, httpGet, startProvider, waitUntil } from '../fixtures/provider-kit.js'
import { sendFrame } from '../fixtures/wire.js'
import { parseUrlString, unixUrl } from '../../src/core/go-url.js'
import { listenOnce } from '../../src/net/stream-socket.js'
import { openStream } from '../../src/provider/stream-source.js'
import type { TaskRequest } from '../../src/provider/task-request.js'

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex')

async function readAll (stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

// A Readable that hands out `data` in pieces of random size.
function chunked (data: Buffer): Readable {
  let at = 0
  return new Readable({
    read () {
      if (at >= data.length) { this.push(null); return }
      const n = 1 + Math.floor(Math.random() * 100_000)
      this.push(data.subarray(at, at + n))
      at += n
    }
  })
}

t.test('an output stream reaches an http client through the coordinator, byte for byte', async t => {
  const c = await startCoordinator(t)
  const hook = await startHttpHook()
  t.teardown(() => hook.close())
  const data = randomBytes(5 * 1024 * 1024 + 3)
  await startProvider(t, c, p => p.task('Data', () => ({ result: { bytes: data.length }, stream: chunked(data) })))
  await post(c.url('/'), JSON.stringify({ id: 'o1', task: 'Data', responseHook: hook.url() }))
  const [delivered] = await hook.waitFor(1)
  t.same(delivered?.json.result, { bytes: data.length })
  // the request named its hook as a string: the response comes back in that form
  const streamURL = new URL(delivered?.json.streamURL as string)
  t.equal(streamURL.pathname, '/stream', 'rewritten to the coordinator\'s /stream')
  const got = await httpGet(`http://127.0.0.1:${c.coordinator.addresses.httpPort}/stream${streamURL.search}`)
  t.equal(got.status, 200)
  t.equal(got.body.length, data.length)
  t.equal(sha(got.body), sha(data))
})

t.test('with a unix hook the stream socket is the provider\'s own, in S/streams/<task>/<service>, used once', async t => {
  const c = await startCoordinator(t)
  const hookPath = join(c.dir, 'hook.sock')
  const hook = await startUnixHook(hookPath)
  t.teardown(() => hook.close())
  const bytes = new Uint8Array([0, 1, 2, 255, 254])
  const provider = await startProvider(t, c, p => p.task('Bytes', () => ({ stream: bytes })))
  await sendFrame(provider.taskSocket('Bytes'), JSON.stringify({ id: 'u1', task: 'Bytes', responseHook: goUrl('unix', '', hookPath) }))
  const [delivered] = await hook.waitFor(1)
  const url = delivered?.json.streamURL as { Scheme: string, Path: string }
  t.equal(url.Scheme, 'unix')
  t.match(url.Path, new RegExp(`^${join(c.dir, 'streams', 'Bytes', 'prov')}/[0-9a-f]{16}\\.sock$`))
  t.equal(delivered?.json.result, null)
  const got = await readAll(await openStream(unixUrl(url.Path), { timeoutMs: 1000 }))
  t.same([...got], [...bytes])
  await waitUntil(() => !existsSync(url.Path), 2000, 'stream socket removal')
  await t.rejects(openStream(unixUrl(url.Path), { timeoutMs: 1000 }), { code: 'ERR_STREAM_OPEN', message: /no socket at/ })
})

t.test('an unread output stream expires: its socket goes and its source is destroyed', async t => {
  const c = await startCoordinator(t)
  const hookPath = join(c.dir, 'hook.sock')
  const hook = await startUnixHook(hookPath)
  t.teardown(() => hook.close())
  const source = new PassThrough()
  const provider = await startProvider(t, c, p => p.task('Unread', () => ({ stream: source })), { streamTtlMs: 100 })
  await sendFrame(provider.taskSocket('Unread'), JSON.stringify({ id: 'x1', task: 'Unread', responseHook: goUrl('unix', '', hookPath) }))
  const [delivered] = await hook.waitFor(1)
  const path = (delivered?.json.streamURL as { Path: string }).Path
  t.ok(existsSync(path), 'served')
  await waitUntil(() => source.destroyed && !existsSync(path), 2000, 'expiry')
  t.pass('expired: source destroyed, socket removed')
})

t.test('stop waits for an unread stream until the stop timeout, then closes it', async t => {
  const c = await startCoordinator(t)
  const hookPath = join(c.dir, 'hook.sock')
  const hook = await startUnixHook(hookPath)
  t.teardown(() => hook.close())
  const source = new PassThrough()
  const provider = await startProvider(t, c, p => p.task('Held', () => ({ stream: source })), { stopTimeoutMs: 200 })
  await sendFrame(provider.taskSocket('Held'), JSON.stringify({ id: 'h1', task: 'Held', responseHook: goUrl('unix', '', hookPath) }))
  const path = ((await hook.waitFor(1))[0]?.json.streamURL as { Path: string }).Path
  const begun = Date.now()
  await provider.stop()
  t.ok(Date.now() - begun >= 190, 'waited for a reader')
  t.ok(source.destroyed, 'then closed it')
  t.notOk(existsSync(path))
})

t.test('a request stream from an http client is read by the handler through the coordinator, byte for byte', async t => {
  const c = await startCoordinator(t)
  const hook = await startHttpHook()
  t.teardown(() => hook.close())
  const data = randomBytes(3 * 1024 * 1024 + 1)
  const source: Server = createHttpServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/octet-stream' })
    void pipeline(chunked(data), res).catch(() => {})
  })
  await new Promise<void>(resolve => source.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>(resolve => { source.closeAllConnections(); source.close(() => { resolve() }) }))
  const port = (source.address() as AddressInfo).port
  await startProvider(t, c, p => p.task('Digest', async (req: TaskRequest) => {
    const body = await readAll(await req.openStream())
    return { bytes: body.length, sha256: sha(body), scheme: req.streamURL?.scheme }
  }))
  await post(c.url('/'), JSON.stringify({ id: 'q1', task: 'Digest', responseHook: hook.url(), streamURL: `http://127.0.0.1:${port}/data` }))
  const [delivered] = await hook.waitFor(1, 10_000)
  t.same(delivered?.json, { error: '', id: 'q1', result: { bytes: data.length, sha256: sha(data), scheme: 'unix' }, streamURL: null })
})

t.test('Echo-style: a handler streams its request stream back', async t => {
  const c = await startCoordinator(t)
  const hookPath = join(c.dir, 'hook.sock')
  const hook = await startUnixHook(hookPath)
  t.teardown(() => hook.close())
  const data = randomBytes(700_000)
  const served = await listenOnce({ path: join(c.dir, 'in.sock'), ttlMs: 5000 }, (socket: Socket) => {
    void pipeline(chunked(data), socket).catch(() => {})
  })
  t.teardown(() => { served.close() })
  // a bare Readable is an output stream with a null result
  const provider = await startProvider(t, c, p => p.task('Back', async req => await req.openStream()))
  await sendFrame(provider.taskSocket('Back'), JSON.stringify({
    id: 'e1', task: 'Back', responseHook: goUrl('unix', '', hookPath), streamURL: goUrl('unix', '', served.path)
  }))
  const [delivered] = await hook.waitFor(1)
  t.equal(delivered?.json.result, null)
  const path = (delivered?.json.streamURL as { Path: string }).Path
  const got = await readAll(await openStream(unixUrl(path), { timeoutMs: 1000 }))
  t.equal(sha(got), sha(data))
})

t.test('opening streams: no stream, nothing there, an error status, an idle source', async t => {
  const c = await startCoordinator(t)
  const hook = await startHttpHook()
  t.teardown(() => hook.close())
  const failures: unknown[] = []
  const done = gate()
  await startProvider(t, c, p => p.task('Open', async req => {
    failures.push(await req.openStream().catch((err: unknown) => err))
    done.open()
    return null
  }))
  await post(c.url('/'), JSON.stringify({ id: 'n1', task: 'Open', responseHook: hook.url() }))
  await done.promise
  t.match(failures[0], { code: 'ERR_STREAM_NONE' })

  await t.rejects(openStream(unixUrl(join(c.dir, 'none.sock')), { timeoutMs: 500 }), { code: 'ERR_STREAM_OPEN', message: /no socket at/ })
  await t.rejects(openStream(parseUrlString(c.url('/stream?addr=unix%3A%2F%2F%2Fnowhere.sock')), { timeoutMs: 2000 }), { code: 'ERR_STREAM_OPEN', message: /status 403/ })
  await t.rejects(openStream(parseUrlString('http://127.0.0.1:1/x'), { timeoutMs: 2000 }), { code: 'ERR_STREAM_OPEN', message: /ECONNREFUSED/ })

  // one byte, then silence
  const held = await listenOnce({ path: join(c.dir, 'idle.sock'), ttlMs: 5000 }, (socket: Socket) => {
    socket.write('x')
    t.teardown(() => { socket.destroy() })
  })
  t.teardown(() => { held.close() })
  const stream = await openStream(unixUrl(held.path), { timeoutMs: 1000, idleTimeoutMs: 100 })
  await t.rejects(readAll(stream), { code: 'ERR_STREAM_IDLE' })
})
