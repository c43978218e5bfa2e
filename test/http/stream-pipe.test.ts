import t from 'tap'
import { createHash, randomBytes } from 'node:crypto'
import http from 'node:http'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { connect, type Socket } from 'node:net'
import { StreamSources, pipeStream, sendStream, type HttpSource } from '../../src/http/stream-pipe.js'
import { deferred, freePort, startHttpServer } from '../fixtures/http-helpers.js'
import { rawServer, sockDir, writeAll } from '../fixtures/net-helpers.js'

function sha (b: Buffer): string {
  return createHash('sha256').update(b).digest('hex')
}

function sources (t: { teardown (fn: () => unknown): void }, timeoutMs = 2000): StreamSources {
  const s = new StreamSources({ timeoutMs })
  t.teardown(() => { s.close() })
  return s
}

async function readStream (source: HttpSource): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const c of source.stream) chunks.push(c as Buffer)
  return Buffer.concat(chunks)
}

interface Fetched { status: number, headers: http.IncomingHttpHeaders, body: Buffer, error: string | undefined, ended: boolean }

/** GETs url into a slow writable (16 KiB buffer, each chunk acknowledged after a timer). */
function slowGet (url: string, delayMs = 1): Promise<Fetched> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, res => {
      const chunks: Buffer[] = []
      let ended = false
      let error: string | undefined
      res.on('end', () => { ended = true })
      const sink = new Writable({
        highWaterMark: 16 * 1024,
        write (chunk: Buffer, _enc, cb) { chunks.push(chunk); setTimeout(cb, delayMs) }
      })
      res.on('error', (err: NodeJS.ErrnoException) => { error = err.code ?? err.message })
      res.pipe(sink)
      const done = (): void => { resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), error, ended }) }
      // A complete body ends the sink, which finishes once its buffered chunks are written
      // (resolving at the body's 'close' lost them: a flaky short body under load). A cut
      // body never ends the sink: 'close' without 'end' says so.
      sink.on('finish', done)
      res.on('close', () => { if (!ended) setImmediate(done) })
    })
    req.on('error', reject)
  })
}

t.test('openUnix: connects to a unix source and reads it into a response', async t => {
  const dir = sockDir(t)
  const path = join(dir, 'src.sock')
  await rawServer(t, path, socket => { socket.end('unix bytes') })
  const s = sources(t)
  const source = await s.openUnix(path)
  t.equal(source.kind, 'unix')
  t.equal(source.length, undefined)
  t.equal(source.contentType, undefined)
  t.equal(source.readBytes, 256 * 1024, 'read 256 KiB at a time by default')
  const small = await new StreamSources({ timeoutMs: 100, unixReadBytes: 1000 }).openUnix(path)
  t.equal(small.readBytes, 1000)
  small.destroy()
  const { url } = await startHttpServer(t, (_req, res) => { void sendStream(res, source) })
  const got = await slowGet(url, 0)
  t.equal(got.body.toString(), 'unix bytes')
  t.equal(got.ended, true)
})

t.test('openUnix: a missing socket or a path too long is ERR_STREAM_SOURCE', async t => {
  const dir = sockDir(t)
  const s = sources(t)
  await t.rejects(s.openUnix(join(dir, 'none.sock')), { code: 'ERR_STREAM_SOURCE', message: /cannot be reached.*ENOENT/ })
  await t.rejects(s.openUnix('/' + 'x'.repeat(200)), { code: 'ERR_STREAM_SOURCE', message: /too long/ })
})

t.test('openHttp: a 2xx answer gives its body, declared length and content type', async t => {
  const { url } = await startHttpServer(t, (req, res) => {
    t.equal(req.method, 'GET')
    res.writeHead(200, { 'Content-Type': 'text/x-test', 'Content-Length': 5 })
    res.end('hello')
  })
  const source = await sources(t).openHttp(url + '/data?x=1')
  t.equal(source.length, 5)
  t.equal(source.contentType, 'text/x-test')
  t.equal((await readStream(source)).toString(), 'hello')
})

t.test('openHttp: a chunked body has no declared length', async t => {
  const { url } = await startHttpServer(t, (_req, res) => { res.write('a'); res.end('b') })
  const source = await sources(t).openHttp(url)
  t.equal(source.length, undefined)
  t.equal((await readStream(source)).toString(), 'ab')
})

t.test('openHttp: refusals are ERR_STREAM_SOURCE', async t => {
  const { url } = await startHttpServer(t, (req, res) => {
    if (req.url === '/missing') { res.writeHead(404); res.end('not here') }
    if (req.url === '/moved') { res.writeHead(302, { Location: '/elsewhere' }); res.end() }
    // '/silent': headers never come
  })
  const s = sources(t, 150)
  await t.rejects(s.openHttp(url + '/missing'), { code: 'ERR_STREAM_SOURCE', message: /answered 404/ })
  await t.rejects(s.openHttp(url + '/moved'), { code: 'ERR_STREAM_SOURCE', message: /answered 302/ }, 'redirects are not followed')
  const started = Date.now()
  await t.rejects(s.openHttp(url + '/silent'), { code: 'ERR_STREAM_SOURCE', message: /no answer within 150 ms/ })
  t.ok(Date.now() - started < 1500, 'bounded by the timeout')
  await t.rejects(s.openHttp(`http://127.0.0.1:${await freePort()}/`), { code: 'ERR_STREAM_SOURCE', message: /ECONNREFUSED/ })
  await t.rejects(s.openHttp('ftp://127.0.0.1/x'), { code: 'ERR_STREAM_SOURCE', message: /not http or https/ })
  await t.rejects(s.openHttp('not a url'), { code: 'ERR_STREAM_SOURCE', message: /invalid/ })
})

t.test('openHttp: sources share keep-alive connections', async t => {
  let connections = 0
  const { server, url } = await startHttpServer(t, (_req, res) => { res.end('x') })
  server.on('connection', () => { connections++ })
  const s = sources(t)
  for (let i = 0; i < 3; i++) {
    t.equal((await readStream(await s.openHttp(url))).toString(), 'x')
    await new Promise(resolve => setImmediate(resolve))
  }
  t.equal(connections, 1, 'one connection for three streams')
})

t.test('close(): later opens are refused', async t => {
  const s = new StreamSources({ timeoutMs: 100 })
  s.close()
  s.close()
  await t.rejects(s.openHttp('http://127.0.0.1:9/'), { code: 'ERR_STREAM_SOURCE' })
  await t.rejects(s.openUnix('/tmp/x.sock'), { code: 'ERR_STREAM_SOURCE' })
})

t.test('sendStream: a unix source reaches a slow reader whole, chunked, counted', async t => {
  const dir = sockDir(t)
  const path = join(dir, 'big.sock')
  const data = randomBytes(8 * 1024 * 1024 + 123)
  await rawServer(t, path, socket => { void writeAll(socket, data).catch(() => {}) })
  const s = sources(t)
  let counted = 0
  const piped = deferred<unknown>()
  const { url } = await startHttpServer(t, (_req, res) => {
    void s.openUnix(path).then(source => sendStream(res, source, n => { counted += n })).then(() => piped.resolve('ok'), piped.resolve)
  })
  const got = await slowGet(url, 0)
  t.equal(got.status, 200)
  t.equal(got.headers['transfer-encoding'], 'chunked')
  t.equal(got.headers['content-type'], 'application/octet-stream')
  t.equal(got.headers['x-content-type-options'], 'nosniff')
  t.equal(got.error, undefined)
  t.equal(got.ended, true)
  t.equal(got.body.length, data.length)
  t.equal(sha(got.body), sha(data))
  t.equal(await piped.promise, 'ok')
  t.equal(counted, data.length)
})

t.test('sendStream: an http source with a length is sent with Content-Length', async t => {
  const data = randomBytes(1024 * 1024)
  const { url: sourceUrl } = await startHttpServer(t, (_req, res) => {
    res.writeHead(200, { 'Content-Length': data.length, 'Content-Type': 'application/x-data' })
    void writeAll(res, data).catch(() => {})
  })
  const s = sources(t)
  const { url } = await startHttpServer(t, (_req, res) => {
    void s.openHttp(sourceUrl).then(source => sendStream(res, source))
  })
  const got = await slowGet(url, 0)
  t.equal(got.headers['content-length'], String(data.length))
  t.equal(got.headers['content-type'], 'application/x-data')
  t.equal(got.headers['transfer-encoding'], undefined)
  t.equal(sha(got.body), sha(data))
})

for (const framing of ['content-length', 'chunked'] as const) {
  t.test(`sendStream: an http source (${framing}) that dies mid-stream gives the reader an error, not an end`, async t => {
    const { url: sourceUrl } = await startHttpServer(t, (_req, res) => {
      res.writeHead(200, framing === 'content-length' ? { 'Content-Length': 4 * 1024 * 1024 } : {})
      res.write(randomBytes(1024 * 1024), () => { res.socket?.destroy() })
    })
    const s = sources(t)
    const piped = deferred<unknown>()
    const { url } = await startHttpServer(t, (_req, res) => {
      void s.openHttp(sourceUrl).then(source => sendStream(res, source)).then(() => piped.resolve(undefined), piped.resolve)
    })
    const got = await slowGet(url, 0)
    t.equal(got.status, 200)
    t.equal(got.ended, false, 'no clean end')
    t.ok(got.error !== undefined, `the reader saw an error (${got.error})`)
    t.ok(got.body.length < 4 * 1024 * 1024, 'the body is short')
    t.ok(await piped.promise instanceof Error, 'the pipe failed')
  })
}

t.test('sendStream: a reader that leaves closes the source connection', async t => {
  const dir = sockDir(t)
  const path = join(dir, 'endless.sock')
  const sourceClosed = deferred<number>()
  await rawServer(t, path, (socket: Socket) => {
    let written = 0
    const chunk = Buffer.alloc(65536, 1)
    const pump = (): void => {
      while (socket.writable && socket.write(chunk)) written += chunk.length
    }
    socket.on('drain', pump)
    socket.on('close', () => { sourceClosed.resolve(written) })
    pump()
  })
  const s = sources(t)
  const piped = deferred<unknown>()
  const { url } = await startHttpServer(t, (_req, res) => {
    void s.openUnix(path).then(source => sendStream(res, source)).then(() => piped.resolve(undefined), piped.resolve)
  })
  await new Promise<void>((resolve, reject) => {
    const req = http.get(url, res => {
      let got = 0
      res.on('data', (c: Buffer) => {
        got += c.length
        if (got >= 1024 * 1024) { req.destroy(); resolve() }
      })
    })
    req.on('error', () => {})
    req.on('close', () => resolve())
    setTimeout(() => reject(new Error('never got 1 MiB')), 5000).unref()
  })
  const written = await sourceClosed.promise
  t.ok(written > 0, 'the source was writing')
  t.ok(await piped.promise instanceof Error, 'the pipe reports the early end')
})

t.test('pipeStream: into a unix socket, with and without counting', async t => {
  const dir = sockDir(t)
  const data = randomBytes(3 * 1024 * 1024)
  for (const counting of [true, false]) {
    const path = join(dir, `sink-${String(counting)}.sock`)
    const received = deferred<Buffer>()
    await rawServer(t, path, socket => {
      const chunks: Buffer[] = []
      socket.on('data', (c: Buffer) => chunks.push(c))
      socket.on('end', () => { received.resolve(Buffer.concat(chunks)); socket.end() })
    })
    const { url } = await startHttpServer(t, (_req, res) => { res.end(data) })
    const s = sources(t)
    const source = await s.openHttp(url)
    const sink = await new Promise<Socket>((resolve, reject) => {
      const c = connect(path, () => resolve(c))
      c.on('error', reject)
    })
    let counted = 0
    await pipeStream(source.stream, sink, counting ? n => { counted += n } : undefined)
    t.equal(sha(await received.promise), sha(data))
    t.equal(counted, counting ? data.length : 0)
  }
})
