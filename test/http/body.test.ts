import t from 'tap'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { readBody } from '../../src/http/body.js'
import { HttpError } from '../../src/http/errors.js'
import { deferred, delay, rawConnect, startHttpServer } from '../fixtures/http-helpers.js'
import type { Teardown } from '../fixtures/http-helpers.js'

const STATUS: Record<string, number> = { ERR_BODY_TOO_LARGE: 413, ERR_BODY_TIMEOUT: 408, ERR_BODY_ABORTED: 400 }

interface Outcome {
  body?: Buffer
  err?: HttpError
  /** the chunks node delivered, seen by a listener added before readBody */
  chunks: Buffer[]
  /** listeners readBody left on the request once settled */
  leftListeners: number
  ms: number
}

/** A server whose every request is read with readBody; answers 200 + body, or the error's status. */
async function bodyServer (t: Teardown, maxBytes: number, timeoutMs: number) {
  const outcomes: Array<{ promise: Promise<Outcome>, resolve: (o: Outcome) => void }> = [deferred<Outcome>()]
  let n = 0
  const { port } = await startHttpServer(t, (req: IncomingMessage, res: ServerResponse) => {
    const slot = outcomes[n] ?? deferred<Outcome>()
    outcomes[n++] = slot
    outcomes.push(deferred<Outcome>())
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    const before = listeners(req) - 1
    const start = performance.now()
    readBody(req, { maxBytes, timeoutMs }).then(body => {
      slot.resolve({ body, chunks, leftListeners: listeners(req) - 1 - before, ms: performance.now() - start })
      res.end(body)
    }, (err: HttpError) => {
      slot.resolve({ err, chunks, leftListeners: listeners(req) - 1 - before, ms: performance.now() - start })
      if (res.destroyed) return
      const headers = err.closeConnection ? { connection: 'close' } : {}
      res.writeHead(STATUS[err.code] ?? 500, headers).end(err.code)
    })
  })
  return { port, outcome: (i = 0) => (outcomes[i] as { promise: Promise<Outcome> }).promise }
}

function listeners (req: IncomingMessage): number {
  return req.listenerCount('data') + req.listenerCount('end') + req.listenerCount('error') + req.listenerCount('close')
}

t.test('reads a small body whole', async t => {
  const { port, outcome } = await bodyServer(t, 1024, 1000)
  const c = await rawConnect(t, port)
  c.socket.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello')
  const o = await outcome()
  t.equal(o.err, undefined)
  t.equal(o.body?.toString(), 'hello')
  t.equal(o.leftListeners, 0, 'listeners removed')
  const reply = await c.waitFor('hello')
  t.match(reply, /^HTTP\/1\.1 200 /)
})

t.test('returns a one-chunk body without copying it', async t => {
  const { port, outcome } = await bodyServer(t, 1024, 1000)
  const c = await rawConnect(t, port)
  c.socket.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world')
  const o = await outcome()
  t.equal(o.chunks.length, 1)
  t.ok(o.body === o.chunks[0], 'the very chunk node delivered')
  t.equal(o.body?.toString(), 'hello world')
})

t.test('joins a body that arrives in several chunks', async t => {
  const { port, outcome } = await bodyServer(t, 1024, 2000)
  const c = await rawConnect(t, port)
  c.socket.write('POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n')
  await delay(20)
  c.socket.write('3\r\ndef\r\n')
  await delay(20)
  c.socket.write('2\r\ngh\r\n0\r\n\r\n')
  const o = await outcome()
  t.ok(o.chunks.length > 1, 'several chunks')
  t.equal(o.body?.toString(), 'abcdefgh')
  t.equal(o.leftListeners, 0)
})

t.test('an empty body and a body of exactly maxBytes are accepted', async t => {
  const { port, outcome } = await bodyServer(t, 4, 1000)
  const c = await rawConnect(t, port)
  c.socket.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n')
  const o0 = await outcome(0)
  t.equal(o0.body?.length, 0)
  await c.waitFor('HTTP/1.1 200')
  c.socket.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nabcd')
  const o1 = await outcome(1)
  t.equal(o1.body?.toString(), 'abcd')
})

t.test('a chunked body growing past maxBytes is refused before it ends', async t => {
  const { port, outcome } = await bodyServer(t, 10, 5000)
  const c = await rawConnect(t, port)
  c.socket.write('POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n12345678\r\n')
  await delay(20)
  // 16 bytes in all; the terminating chunk is never sent.
  c.socket.write('8\r\n12345678\r\n')
  const o = await outcome()
  t.equal(o.err?.code, 'ERR_BODY_TOO_LARGE')
  t.equal(o.err?.closeConnection, true)
  t.equal(o.leftListeners, 0, 'stopped listening')
  const reply = await c.closed
  t.match(reply, /^HTTP\/1\.1 413 /)
  t.match(reply, /connection: close/i)
  t.match(reply, /\r\nERR_BODY_TOO_LARGE\r\n/)
})

t.test('a Content-Length above maxBytes is refused at once, unread', async t => {
  const { port, outcome } = await bodyServer(t, 1024, 5000)
  const c = await rawConnect(t, port)
  c.socket.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n')
  const o = await outcome()
  t.equal(o.err?.code, 'ERR_BODY_TOO_LARGE')
  t.equal(o.chunks.length, 0, 'no body byte read')
  t.ok(o.ms < 1000, 'without waiting for the body')
  const reply = await c.closed
  t.match(reply, /^HTTP\/1\.1 413 /)
})

t.test('a body slower than timeoutMs is refused with ERR_BODY_TIMEOUT', async t => {
  const { port, outcome } = await bodyServer(t, 1024, 100)
  const c = await rawConnect(t, port)
  c.socket.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc')
  const o = await outcome()
  t.equal(o.err?.code, 'ERR_BODY_TIMEOUT')
  t.ok(o.ms >= 90 && o.ms < 1000, `timed out after ${Math.round(o.ms)} ms`)
  t.equal(o.leftListeners, 0)
  const reply = await c.closed
  t.match(reply, /^HTTP\/1\.1 408 /)
})

t.test('a client that aborts mid-body gives ERR_BODY_ABORTED', async t => {
  const { port, outcome } = await bodyServer(t, 1024, 5000)
  const c = await rawConnect(t, port)
  c.socket.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc')
  await delay(20)
  c.socket.destroy()
  const o = await outcome()
  t.equal(o.err?.code, 'ERR_BODY_ABORTED')
  t.ok(o.ms < 1000, 'at once, not at the timeout')
  t.equal(o.leftListeners, 0)
})

t.test('a request already destroyed is refused with ERR_BODY_ABORTED', async t => {
  const got = deferred<HttpError>()
  const { port } = await startHttpServer(t, (req, res) => {
    req.destroy()
    readBody(req, { maxBytes: 10, timeoutMs: 1000 }).catch((err: HttpError) => { got.resolve(err); res.destroy() })
  })
  const c = await rawConnect(t, port)
  c.socket.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n')
  t.equal((await got.promise).code, 'ERR_BODY_ABORTED')
})

t.test('a request destroyed mid-body by the server gives ERR_BODY_ABORTED', async t => {
  const got = deferred<HttpError>()
  const { port } = await startHttpServer(t, (req, res) => {
    readBody(req, { maxBytes: 100, timeoutMs: 5000 }).catch((err: HttpError) => { got.resolve(err); res.destroy() })
    setTimeout(() => { req.destroy() }, 20)
  })
  const c = await rawConnect(t, port)
  c.socket.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc')
  t.equal((await got.promise).code, 'ERR_BODY_ABORTED')
})
