/**
 * Backpressure and teardown of proxied streams (SPEC 6): a stalled reader pauses the source
 * and the coordinator's memory stays flat (measured on the built CLI as a child process); a
 * reader that leaves closes the source; a source that dies cuts the reader's stream.
 */
import t from 'tap'
import { mkdirSync, readFileSync, rmSync } from 'node:fs'
import { createHash, randomBytes } from 'node:crypto'
import http from 'node:http'
import type { Socket } from 'node:net'
import { Writable } from 'node:stream'
import { join } from 'node:path'
import { freePort, runCoordinator } from '../fixtures/cli.js'
import { startCoordinator, post, goUrl, socketDir } from '../fixtures/coordinator.js'
import { startFakeProvider } from '../fixtures/fake-provider.js'
import { startHttpHook } from '../fixtures/hook-sink.js'
import { deferred, delay, startHttpServer } from '../fixtures/http-helpers.js'
import { rawServer } from '../fixtures/net-helpers.js'

const KiB = 1024
const MiB = 1024 * KiB

/** VmRSS of a process, in bytes. */
function rssOf (pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return Number(m?.[1] ?? NaN) * KiB
}

/** A unix source offering `total` bytes as fast as its reader takes them; counts what it managed to write. */
interface EndlessSource { written: () => number, closed: Promise<void> }
async function offeringSource (t: Parameters<typeof rawServer>[0], path: string, total: number): Promise<EndlessSource> {
  let written = 0
  const closed = deferred<void>()
  const chunk = Buffer.alloc(64 * KiB, 0x5a)
  await rawServer(t, path, (socket: Socket) => {
    const pump = (): void => {
      while (written < total) {
        written += chunk.length
        if (!socket.write(chunk)) return
      }
      socket.end()
    }
    socket.on('drain', pump)
    socket.on('close', () => { closed.resolve() })
    pump()
  })
  return { written: () => written, closed: closed.promise }
}

t.test('a stalled reader pauses the source; the coordinator\'s RSS stays flat (built CLI)', async t => {
  const dir = socketDir()
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  const port = await freePort()
  const child = runCoordinator(t, ['-n', 'bp', '-s', dir, '-p', String(port), '-t', '30', '-l', 'info', '--bind_address', '127.0.0.1'])
  await child.waitForLog(/coordinator ready/)
  const pid = child.proc.pid ?? 0

  mkdirSync(join(dir, 'out'))
  const sourcePath = join(dir, 'out', 'offer.sock')
  const source = await offeringSource(t, sourcePath, 256 * MiB)
  const hook = await startHttpHook()
  t.teardown(() => hook.close())
  const provider = await startFakeProvider({
    path: join(dir, 'Offer', '10-p.sock'),
    reply: () => ({ streamURL: JSON.stringify(goUrl('unix', '', sourcePath)) })
  })
  t.teardown(() => provider.close())
  const answer = await post(`http://127.0.0.1:${port}/`, JSON.stringify({ id: 'bp1', task: 'Offer', responseHook: goUrl('http', `127.0.0.1:${hook.port}`, '/h') }))
  t.equal(answer.status, 200)
  const [delivered] = await hook.waitFor(1)
  const u = delivered?.json.streamURL as Record<string, string>
  const baseline = rssOf(pid)

  let received = 0
  let peakRss = baseline
  const sampler = setInterval(() => { peakRss = Math.max(peakRss, rssOf(pid)) }, 50)
  t.teardown(() => { clearInterval(sampler) })
  const done = deferred<{ ended: boolean }>()
  const stalled = deferred<http.IncomingMessage>()
  let stalling = true
  const req = http.get(`http://127.0.0.1:${port}${u.Path}?${u.RawQuery}`, res => {
    res.on('data', (c: Buffer) => {
      received += c.length
      if (stalling && received >= 64 * KiB) {
        stalling = false
        res.pause()
        stalled.resolve(res)
      }
    })
    res.on('end', () => { done.resolve({ ended: true }) })
    res.on('error', () => { done.resolve({ ended: false }) })
  })
  t.teardown(() => { req.destroy() })
  const res = await stalled.promise
  await delay(2000)
  const aheadWhileStalled = source.written() - received
  const peakWhileStalled = peakRss
  t.ok(source.written() < 16 * MiB, `the source was paused: it wrote ${(source.written() / MiB).toFixed(1)} MiB of 256 while the reader had ${(received / KiB).toFixed(0)} KiB`)
  t.ok(peakWhileStalled - baseline < 64 * MiB, `RSS grew by ${((peakWhileStalled - baseline) / MiB).toFixed(1)} MiB while stalled`)
  t.comment(`ahead of the reader: ${(aheadWhileStalled / MiB).toFixed(2)} MiB`)

  // Once the reader reads again, every byte arrives.
  res.resume()
  t.same(await done.promise, { ended: true })
  clearInterval(sampler)
  t.equal(received, 256 * MiB, 'all 256 MiB arrived')
  t.ok(peakRss - baseline < 64 * MiB, `RSS grew by ${((peakRss - baseline) / MiB).toFixed(1)} MiB over the whole stream`)
  await source.closed
})

t.test('a reader that leaves closes the source connection', async t => {
  const c = await startCoordinator(t)
  mkdirSync(join(c.dir, 'out'))
  const sourcePath = join(c.dir, 'out', 'leave.sock')
  const source = await offeringSource(t, sourcePath, 256 * MiB)
  const hook = await startHttpHook()
  t.teardown(() => hook.close())
  const provider = await startFakeProvider({
    path: join(c.dir, 'Leave', '10-p.sock'),
    reply: () => ({ streamURL: JSON.stringify(goUrl('unix', '', sourcePath)) })
  })
  t.teardown(() => provider.close())
  await post(c.url('/'), JSON.stringify({ id: 'leave1', task: 'Leave', responseHook: goUrl('http', `127.0.0.1:${hook.port}`, '/h') }))
  const [delivered] = await hook.waitFor(1)
  const u = delivered?.json.streamURL as Record<string, string>
  await new Promise<void>(resolve => {
    const req = http.get(c.url(`${u.Path}?${u.RawQuery}`), res => {
      let got = 0
      res.on('data', (b: Buffer) => {
        got += b.length
        if (got >= MiB) { req.destroy(); resolve() }
      })
    })
    req.on('error', () => {})
  })
  const closedInTime = await Promise.race([source.closed.then(() => true), delay(2000).then(() => false)])
  t.ok(closedInTime, 'the source connection was closed')
  t.ok(source.written() < 256 * MiB, 'before the source finished')
  await delay(20)
  t.equal(c.coordinator.streams.stats.active, 0)
  t.equal(c.coordinator.streams.stats.failed, 1, 'counted as a stream that ended early')
})

for (const framing of ['content-length', 'chunked'] as const) {
  t.test(`a source (${framing}) that dies mid-stream gives the reader an error, never a clean end`, async t => {
    const c = await startCoordinator(t)
    const source = await startHttpServer(t, (_req, res) => {
      res.writeHead(200, framing === 'content-length' ? { 'Content-Length': 8 * MiB } : {})
      res.write(Buffer.alloc(2 * MiB, 1), () => { res.socket?.destroy() })
    })
    const hook = await startHttpHook()
    t.teardown(() => hook.close())
    const provider = await startFakeProvider({
      path: join(c.dir, 'Dies', '10-p.sock'),
      reply: () => ({ streamURL: JSON.stringify(goUrl('http', `127.0.0.1:${source.port}`, '/s')) })
    })
    t.teardown(() => provider.close())
    await post(c.url('/'), JSON.stringify({ id: 'dies1', task: 'Dies', responseHook: goUrl('http', `127.0.0.1:${hook.port}`, '/h') }))
    const [delivered] = await hook.waitFor(1)
    const u = delivered?.json.streamURL as Record<string, string>
    const result = await new Promise<{ status: number, bytes: number, ended: boolean, error: string | undefined }>(resolve => {
      let bytes = 0
      let status = 0
      let ended = false
      let error: string | undefined
      const req = http.get(c.url(`${u.Path}?${u.RawQuery}`), res => {
        status = res.statusCode ?? 0
        if (framing === 'content-length') t.equal(res.headers['content-length'], String(8 * MiB), 'the declared length is passed on')
        res.on('data', (b: Buffer) => { bytes += b.length })
        res.on('end', () => { ended = true })
        res.on('error', (err: NodeJS.ErrnoException) => { error = err.code ?? err.message })
        res.on('close', () => { setImmediate(() => resolve({ status, bytes, ended, error })) })
      })
      req.on('error', (err: NodeJS.ErrnoException) => { error = err.code ?? err.message; resolve({ status, bytes, ended, error }) })
    })
    t.equal(result.status, 200)
    t.equal(result.ended, false, 'no clean end')
    t.ok(result.error !== undefined, `the reader saw an error: ${result.error}`)
    t.ok(result.bytes <= 2 * MiB, `got ${result.bytes} bytes`)
  })
}

t.test('a slow reader is slowed down, not cut off by the server\'s request timeouts', async t => {
  const c = await startCoordinator(t, { headers_timeout: 0.2, body_timeout: 0.2, keep_alive_timeout: 0.2 })
  mkdirSync(join(c.dir, 'out'))
  const sourcePath = join(c.dir, 'out', 'slow.sock')
  const data = randomBytes(2 * MiB)
  await rawServer(t, sourcePath, socket => { socket.end(data) })
  const hook = await startHttpHook()
  t.teardown(() => hook.close())
  const provider = await startFakeProvider({
    path: join(c.dir, 'Slow', '10-p.sock'),
    reply: () => ({ streamURL: JSON.stringify(goUrl('unix', '', sourcePath)) })
  })
  t.teardown(() => provider.close())
  await post(c.url('/'), JSON.stringify({ id: 'slow1', task: 'Slow', responseHook: goUrl('http', `127.0.0.1:${hook.port}`, '/h') }))
  const [delivered] = await hook.waitFor(1)
  const u = delivered?.json.streamURL as Record<string, string>
  const started = Date.now()
  const hash = createHash('sha256')
  let bytes = 0
  await new Promise<void>((resolve, reject) => {
    http.get(c.url(`${u.Path}?${u.RawQuery}`), res => {
      // 16 KiB of buffer, each chunk taken 20 ms later: more than a second for 2 MiB
      const slow = new Writable({
        highWaterMark: 16 * KiB,
        write (chunk: Buffer, _encoding, callback) {
          hash.update(chunk)
          bytes += chunk.length
          setTimeout(callback, 20)
        }
      })
      res.pipe(slow)
      slow.on('finish', resolve)
      res.on('error', reject)
    }).on('error', reject)
  })
  t.ok(Date.now() - started > 600, `the read took ${Date.now() - started} ms, beyond every server timeout`)
  t.equal(bytes, data.length)
  t.equal(hash.digest('hex'), createHash('sha256').update(data).digest('hex'))
})
