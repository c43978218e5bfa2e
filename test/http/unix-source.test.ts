/**
 * A unix source sent as a response body straight to the connection: the exact framing node
 * would write (chunked, or as is for HTTP/1.0), keep-alive and pipelining intact, backpressure
 * from a stalled reader, and a cut on either side never seen as a clean end.
 */
import t from 'tap'
import { createHash, randomBytes } from 'node:crypto'
import http from 'node:http'
import { join } from 'node:path'
import type { Socket } from 'node:net'
import { StreamSources, sendStream } from '../../src/http/stream-pipe.js'
import type { UnixSource } from '../../src/http/unix-source.js'
import { deferred, delay, rawConnect, startHttpServer } from '../fixtures/http-helpers.js'
import { rawServer, sockDir } from '../fixtures/net-helpers.js'

const KiB = 1024
const MiB = 1024 * KiB
const END_CHUNK = '\r\n0\r\n\r\n'

function sha (b: Buffer): string {
  return createHash('sha256').update(b).digest('hex')
}

function sources (t: { teardown (fn: () => unknown): void }, unixReadBytes?: number): StreamSources {
  const s = new StreamSources({ timeoutMs: 2000, ...(unixReadBytes === undefined ? {} : { unixReadBytes }) })
  t.teardown(() => { s.close() })
  return s
}

/** A unix source that writes `data` (honouring backpressure) to each connection, then ends. */
async function dataSource (t: Parameters<typeof rawServer>[0], path: string, data: Buffer): Promise<{ closed: Promise<void> }> {
  const closed = deferred<void>()
  await rawServer(t, path, (socket: Socket) => {
    socket.on('close', () => { closed.resolve() })
    socket.end(data)
  })
  return { closed: closed.promise }
}

/** One response parsed off raw bytes: head, chunk sizes (when chunked), body, and the rest. */
interface Parsed { head: string, sizes: string[], body: Buffer, rest: string }

/** Parses a chunked response at the start of `text` (latin1). */
function parseChunked (text: string): Parsed {
  const headEnd = text.indexOf('\r\n\r\n')
  const head = text.slice(0, headEnd)
  const sizes: string[] = []
  const parts: Buffer[] = []
  let at = headEnd + 4
  for (;;) {
    const lineEnd = text.indexOf('\r\n', at)
    const size = text.slice(at, lineEnd)
    sizes.push(size)
    const n = parseInt(size, 16)
    at = lineEnd + 2
    if (n === 0) break
    parts.push(Buffer.from(text.slice(at, at + n), 'latin1'))
    if (text.slice(at + n, at + n + 2) !== '\r\n') throw new Error(`chunk of ${n} B not followed by CRLF`)
    at += n + 2
  }
  if (text.slice(at, at + 2) !== '\r\n') throw new Error('no CRLF after the last chunk')
  return { head, sizes: sizes.slice(0, -1), body: Buffer.concat(parts), rest: text.slice(at + 2) }
}

t.test('the body is framed as node frames it: lowercase hex size, CRLF, bytes, CRLF, then 0 CRLF CRLF; the connection is kept', async t => {
  const dir = sockDir(t)
  const path = join(dir, 'src.sock')
  const data = randomBytes(300 * KiB + 7)
  await dataSource(t, path, data)
  const s = sources(t, 1000)
  let counted = 0
  let streamListeners = 0
  const nextListeners = deferred<number>()
  const { port } = await startHttpServer(t, (req, res) => {
    if (req.url === '/next') {
      nextListeners.resolve(req.socket.listenerCount('close'))
      res.end('next')
      return
    }
    streamListeners = req.socket.listenerCount('close')
    void s.openUnix(path).then(source => sendStream(res, source, n => { counted += n }))
  })
  const client = await rawConnect(t, port)
  client.socket.write('GET /s HTTP/1.1\r\nHost: x\r\n\r\n')
  const got = parseChunked(await client.waitFor(END_CHUNK))
  t.match(got.head, /^HTTP\/1\.1 200 OK\r\n/)
  t.match(got.head, /\r\nContent-Type: application\/octet-stream\r\n/)
  t.match(got.head, /\r\nX-Content-Type-Options: nosniff\r\n/)
  t.match(got.head, /\r\nTransfer-Encoding: chunked(\r\n|$)/)
  t.notMatch(got.head, /Content-Length/)
  t.ok(got.sizes.length >= Math.ceil(data.length / 1000), `${got.sizes.length} chunks`)
  t.ok(got.sizes.every(size => /^[1-9a-f][0-9a-f]*$/.test(size) && parseInt(size, 16) <= 1000), 'each chunk 1 to 1000 bytes, its size in lowercase hex')
  t.equal(got.body.length, data.length)
  t.equal(sha(got.body), sha(data))
  t.equal(got.rest, '')
  t.equal(counted, data.length)

  // Kept alive: the next request on the same connection is answered.
  client.socket.write('GET /next HTTP/1.1\r\nHost: x\r\n\r\n')
  const text = await client.waitFor('next')
  t.match(parseChunked(text).rest, /^HTTP\/1\.1 200 OK\r\n[^]*\r\n\r\nnext$/)
  t.equal(await nextListeners.promise, streamListeners, 'the stream left no listener on the connection')
})

t.test('HTTP/1.0: the body goes as is, and the connection closes at its end', async t => {
  const dir = sockDir(t)
  const path = join(dir, 'src.sock')
  const data = randomBytes(200 * KiB)
  await dataSource(t, path, data)
  const s = sources(t, 4096)
  const { port } = await startHttpServer(t, (_req, res) => {
    void s.openUnix(path).then(source => sendStream(res, source))
  })
  const client = await rawConnect(t, port)
  client.socket.write('GET /s HTTP/1.0\r\n\r\n')
  const text = await client.closed
  const headEnd = text.indexOf('\r\n\r\n')
  const head = text.slice(0, headEnd)
  t.match(head, /^HTTP\/1\.1 200 OK\r\n/)
  t.notMatch(head, /Transfer-Encoding/)
  t.match(head, /\r\nConnection: close(\r\n|$)/)
  t.equal(sha(Buffer.from(text.slice(headEnd + 4), 'latin1')), sha(data))
})

t.test('a pipelined request\'s stream waits for the response before it, then goes out whole', async t => {
  const dir = sockDir(t)
  const path = join(dir, 'src.sock')
  const data = randomBytes(100 * KiB)
  await dataSource(t, path, data)
  const s = sources(t, 4096)
  const queued = deferred<boolean>()
  const { port } = await startHttpServer(t, (req, res) => {
    if (req.url === '/first') {
      setTimeout(() => { res.end('first') }, 100)
      return
    }
    queued.resolve(res.socket === null)
    void s.openUnix(path).then(source => sendStream(res, source))
  })
  const client = await rawConnect(t, port)
  client.socket.write('GET /first HTTP/1.1\r\nHost: x\r\n\r\nGET /s HTTP/1.1\r\nHost: x\r\n\r\n')
  t.equal(await queued.promise, true, 'the stream\'s response had no connection yet')
  const text = await client.waitFor(END_CHUNK)
  const first = text.indexOf('\r\n\r\nfirst')
  t.ok(first > 0, 'the first response comes first')
  const got = parseChunked(text.slice(first + '\r\n\r\nfirst'.length))
  t.match(got.head, /^HTTP\/1\.1 200 OK\r\n/)
  t.equal(sha(got.body), sha(data))
})

t.test('a stalled reader pauses the source; once it reads again every byte arrives', async t => {
  const dir = sockDir(t)
  const path = join(dir, 'offer.sock')
  const total = 64 * MiB
  const block = randomBytes(MiB)
  let written = 0
  await rawServer(t, path, (socket: Socket) => {
    const pump = (): void => {
      while (written < total) {
        written += block.length
        if (!socket.write(block)) return
      }
      socket.end()
    }
    socket.on('drain', pump)
    pump()
  })
  const s = sources(t)
  const piped = deferred<unknown>()
  const { url } = await startHttpServer(t, (_req, res) => {
    void s.openUnix(path).then(source => sendStream(res, source)).then(() => piped.resolve('ok'), piped.resolve)
  })
  const hash = createHash('sha256')
  let received = 0
  const stalled = deferred<http.IncomingMessage>()
  const ended = deferred<boolean>()
  const req = http.get(url, res => {
    res.on('data', (c: Buffer) => {
      hash.update(c)
      received += c.length
      if (received >= MiB && received - c.length < MiB) {
        res.pause()
        stalled.resolve(res)
      }
    })
    res.on('end', () => { ended.resolve(true) })
    res.on('error', () => { ended.resolve(false) })
  })
  t.teardown(() => { req.destroy() })
  const res = await stalled.promise
  await delay(500)
  t.ok(written < 24 * MiB, `the source was paused: it wrote ${written / MiB} MiB of 64 while the reader took ${(received / MiB).toFixed(1)}`)
  res.resume()
  t.equal(await ended.promise, true)
  t.equal(received, total)
  t.equal(hash.digest('hex'), createHash('sha256').update(Buffer.concat(Array(total / MiB).fill(block) as Buffer[])).digest('hex'))
  t.equal(await piped.promise, 'ok')
})

t.test('a source that fails mid-stream cuts the response: the reader sees no clean end', async t => {
  const dir = sockDir(t)
  const path = join(dir, 'src.sock')
  await rawServer(t, path, (socket: Socket) => {
    // Writes and never ends: the failure comes from our side of the socket.
    socket.write(randomBytes(512 * KiB))
    socket.on('error', () => {})
  })
  const s = sources(t)
  const piped = deferred<unknown>()
  let source: UnixSource | undefined
  const { url } = await startHttpServer(t, (_req, res) => {
    void s.openUnix(path).then(opened => {
      source = opened
      return sendStream(res, opened)
    }).then(() => piped.resolve('ok'), piped.resolve)
  })
  const result = await new Promise<{ bytes: number, ended: boolean, error: string | undefined }>(resolve => {
    let bytes = 0
    let ended = false
    let error: string | undefined
    http.get(url, res => {
      res.on('data', (c: Buffer) => {
        bytes += c.length
        if (bytes >= 512 * KiB) source?.socket.destroy(new Error('boom'))
      })
      res.on('end', () => { ended = true })
      res.on('error', (err: NodeJS.ErrnoException) => { error = err.code ?? err.message })
      res.on('close', () => { setImmediate(() => { resolve({ bytes, ended, error }) }) })
    }).on('error', (err: NodeJS.ErrnoException) => { error = err.code ?? err.message })
  })
  t.equal(result.ended, false, 'no clean end')
  t.ok(result.error !== undefined, `the reader saw an error (${result.error})`)
  t.match(await piped.promise, { code: 'ERR_STREAM_CUT', message: /the source failed after 524288 B: boom/ })
})

t.test('a reader that leaves: the source is closed, send() rejects with ERR_STREAM_CUT', async t => {
  const dir = sockDir(t)
  const path = join(dir, 'endless.sock')
  const sourceClosed = deferred<void>()
  await rawServer(t, path, (socket: Socket) => {
    const chunk = Buffer.alloc(64 * KiB, 1)
    const pump = (): void => { while (socket.writable && socket.write(chunk)) {} }
    socket.on('drain', pump)
    socket.on('error', () => {})
    socket.on('close', () => { sourceClosed.resolve() })
    pump()
  })
  const s = sources(t)
  const piped = deferred<unknown>()
  const { url } = await startHttpServer(t, (_req, res) => {
    void s.openUnix(path).then(source => sendStream(res, source)).then(() => piped.resolve('ok'), piped.resolve)
  })
  await new Promise<void>(resolve => {
    const req = http.get(url, res => {
      let got = 0
      res.on('data', (c: Buffer) => {
        got += c.length
        if (got >= MiB) { req.destroy(); resolve() }
      })
    })
    req.on('error', () => {})
  })
  await sourceClosed.promise
  t.match(await piped.promise, { code: 'ERR_STREAM_CUT', message: /the reader went away after \d+ B/ })
})

t.test('a reader gone before send(): the source is closed and never read', async t => {
  const dir = sockDir(t)
  const path = join(dir, 'src.sock')
  const { closed } = await dataSource(t, path, Buffer.from('unread'))
  const s = sources(t)
  const piped = deferred<unknown>()
  const { url } = await startHttpServer(t, (req, res) => {
    void s.openUnix(path).then(source => {
      req.socket.destroy()
      return sendStream(res, source)
    }).then(() => piped.resolve('ok'), piped.resolve)
  })
  http.get(url).on('error', () => {})
  t.match(await piped.promise, { code: 'ERR_STREAM_CUT', message: /the reader had gone/ })
  await closed
})

t.test('send() sends a source once; a source closed before it is refused', async t => {
  const dir = sockDir(t)
  const path = join(dir, 'src.sock')
  await dataSource(t, path, Buffer.from('once'))
  const s = sources(t)
  const results = deferred<unknown[]>()
  const { url } = await startHttpServer(t, (_req, res) => {
    void (async () => {
      const closedFirst = await s.openUnix(path)
      closedFirst.destroy()
      await new Promise(resolve => setImmediate(resolve))
      const source = await s.openUnix(path)
      const first = source.send(res)
      const again = await source.send(res).catch((err: unknown) => err)
      const refused = await closedFirst.send(res).catch((err: unknown) => err)
      await first
      results.resolve([again, refused])
    })()
  })
  const body = await new Promise<string>((resolve, reject) => {
    http.get(url, res => {
      let text = ''
      res.setEncoding('latin1')
      res.on('data', (c: string) => { text += c })
      res.on('end', () => { resolve(text) })
    }).on('error', reject)
  })
  t.equal(body, 'once')
  const [again, refused] = await results.promise
  t.match(again, { code: 'ERR_STREAM_CUT', message: /sent already/ })
  t.match(refused, { code: 'ERR_STREAM_CUT', message: /closed before it was sent/ })
})
