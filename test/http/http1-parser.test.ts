import t, { type Test } from 'tap'
import { MAX_HEADER_BYTES, ResponseParser } from '../../src/http/http1-parser.js'

interface Parsed { status: number, keepAlive: boolean, body: string, extraBytes: number }

// Feeds the pieces; returns the result once complete (ended with end() when `eof`), or undefined.
function feed (pieces: Buffer[], maxBody = 1 << 20, eof = false): Parsed | undefined {
  const p = new ResponseParser()
  p.reset(maxBody)
  for (const piece of pieces) {
    if (p.push(piece)) return { status: p.status, keepAlive: p.keepAlive, body: p.body.toString('latin1'), extraBytes: p.extraBytes }
  }
  if (eof && p.end()) return { status: p.status, keepAlive: p.keepAlive, body: p.body.toString('latin1'), extraBytes: 0 }
  return undefined
}

// Every way of feeding the bytes: whole, split in two at each offset, and one byte at a time.
function splits (text: string): Buffer[][] {
  const bytes = Buffer.from(text, 'latin1')
  const ways: Buffer[][] = [[bytes]]
  for (let i = 1; i < bytes.length; i++) ways.push([bytes.subarray(0, i), bytes.subarray(i)])
  ways.push(Array.from(bytes, b => Buffer.from([b])))
  return ways
}

function parsesAs (tt: Test, text: string, expected: Omit<Parsed, 'extraBytes'>, opts: { maxBody?: number, eof?: boolean } = {}): void {
  let same = 0
  const ways = splits(text)
  for (const pieces of ways) {
    const r = feed(pieces, opts.maxBody, opts.eof)
    if (r !== undefined && r.status === expected.status && r.keepAlive === expected.keepAlive && r.body === expected.body && r.extraBytes === 0) same++
    else tt.fail(`split ${pieces.map(p => p.length).join('+')}: ${JSON.stringify(r)}`)
  }
  tt.equal(same, ways.length, `the same result whole, at every split and byte by byte (${ways.length} ways)`)
}

function refuses (tt: Test, text: string, message: RegExp): void {
  let refused = 0
  const ways = splits(text)
  for (const pieces of ways) {
    try {
      feed(pieces, 1 << 20, true)
      tt.fail(`accepted, split ${pieces.map(p => p.length).join('+')}`)
    } catch (err) {
      if ((err as { code?: string }).code === 'ERR_HTTP_REPLY_INVALID' && message.test((err as Error).message)) refused++
      else tt.fail(`split ${pieces.map(p => p.length).join('+')}: ${String(err)}`)
    }
  }
  tt.equal(refused, ways.length, `ERR_HTTP_REPLY_INVALID ${String(message)} whole, at every split and byte by byte`)
}

t.test('a Content-Length body', async t => {
  parsesAs(t, 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"ok":true}',
    { status: 200, keepAlive: true, body: '{"ok":true}' })
  parsesAs(t, 'HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n', { status: 404, keepAlive: true, body: '' })
  parsesAs(t, 'HTTP/1.1 200\r\nContent-Length: 2\r\n\r\nok', { status: 200, keepAlive: true, body: 'ok' }, {})
  parsesAs(t, 'HTTP/1.1 201 \r\nContent-Length: 2\r\n\r\nok', { status: 201, keepAlive: true, body: 'ok' })
})

t.test('a chunked body with extensions and trailers', async t => {
  const text = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n' +
    '5;name=value;flag\r\nhello\r\n' + '1 ; q="x"\r\n \r\n' + 'A\r\n0123456789\r\n' + '0;last\r\nX-Checksum: abc\r\nX-Other:  d \r\n\r\n'
  parsesAs(t, text, { status: 200, keepAlive: true, body: 'hello 0123456789' })
  parsesAs(t, 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n', { status: 200, keepAlive: true, body: 'ab' })
  parsesAs(t, 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', { status: 200, keepAlive: true, body: '' })
})

t.test('1xx interim responses are skipped', async t => {
  parsesAs(t, 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\nX-A: b\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nend',
    { status: 200, keepAlive: true, body: 'end' })
})

t.test('204 and 304 have no body, whatever their headers say', async t => {
  parsesAs(t, 'HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n', { status: 204, keepAlive: true, body: '' })
  parsesAs(t, 'HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n', { status: 304, keepAlive: true, body: '' })
})

t.test('a body delimited by the end of the connection', async t => {
  parsesAs(t, 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end', { status: 200, keepAlive: false, body: 'until the end' }, { eof: true })
  parsesAs(t, 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nzz', { status: 200, keepAlive: false, body: 'zz' }, { eof: true })
  const p = new ResponseParser()
  p.reset(100)
  t.equal(p.push(Buffer.from('HTTP/1.1 200 OK\r\n\r\nabc')), false, 'not complete before the end')
  t.equal(p.end(), true)
  t.equal(p.body.toString(), 'abc')
})

t.test('a response cut short is not complete at the end of the connection', async t => {
  for (const text of ['', 'HTTP/1.1 200 OK\r\nContent-Le', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab',
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab']) {
    const p = new ResponseParser()
    p.reset(100)
    if (text !== '') t.equal(p.push(Buffer.from(text)), false)
    t.equal(p.end(), false, JSON.stringify(text))
    t.equal(p.complete, false)
  }
})

t.test('keep-alive: HTTP/1.1 unless Connection: close; HTTP/1.0 only with keep-alive', async t => {
  parsesAs(t, 'HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx', { status: 200, keepAlive: false, body: 'x' })
  parsesAs(t, 'HTTP/1.1 200 OK\r\nConnection: Keep-Alive, CLOSE\r\nContent-Length: 1\r\n\r\nx', { status: 200, keepAlive: false, body: 'x' })
  parsesAs(t, 'HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx', { status: 200, keepAlive: false, body: 'x' })
  parsesAs(t, 'HTTP/1.0 200 OK\r\nconnection: keep-alive\r\nContent-Length: 1\r\n\r\nx', { status: 200, keepAlive: true, body: 'x' })
  parsesAs(t, 'HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nContent-Length: 1\r\n\r\nx', { status: 200, keepAlive: true, body: 'x' })
})

t.test('the body is kept up to the limit and the rest read and dropped', async t => {
  parsesAs(t, 'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789', { status: 200, keepAlive: true, body: '0123' }, { maxBody: 4 })
  parsesAs(t, 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n', { status: 200, keepAlive: true, body: 'abcd' }, { maxBody: 4 })
  parsesAs(t, 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc', { status: 200, keepAlive: true, body: '' }, { maxBody: 0 })
})

t.test('a body in one chunk is not copied', async t => {
  const chunk = Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok')
  const p = new ResponseParser()
  p.reset(100)
  t.equal(p.push(chunk), true)
  t.equal(p.body.buffer, chunk.buffer, 'a view of the chunk')
  t.equal(p.body.toString(), 'ok')
})

t.test('bytes after the complete response are counted, and refused once complete', async t => {
  const p = new ResponseParser()
  p.reset(100)
  t.equal(p.push(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1')), true)
  t.equal(p.extraBytes, 8)
  t.equal(p.body.toString(), 'ok')
  t.throws(() => p.push(Buffer.from('x')), { code: 'ERR_HTTP_REPLY_INVALID' })
  p.reset(100)
  t.equal(p.push(Buffer.from('HTTP/1.1 204 No Content\r\n\r\nX')), true)
  t.equal(p.extraBytes, 1)
  p.reset(100)
  t.equal(p.push(Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nXY')), true)
  t.equal(p.extraBytes, 2)
})

t.test('one parser serves response after response', async t => {
  const p = new ResponseParser()
  for (let i = 0; i < 3; i++) {
    p.reset(100)
    t.equal(p.push(Buffer.from(`HTTP/1.1 20${i} OK\r\nContent-Length: 1\r\n\r\n${i}`)), true)
    t.equal(p.status, 200 + i)
    t.equal(p.body.toString(), String(i))
  }
})

t.test('duplicate Content-Length values: equal ones accepted, conflicting ones refused', async t => {
  parsesAs(t, 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok', { status: 200, keepAlive: true, body: 'ok' })
  parsesAs(t, 'HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nok', { status: 200, keepAlive: true, body: 'ok' })
  refuses(t, 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok', /conflicting Content-Length/)
  refuses(t, 'HTTP/1.1 200 OK\r\nContent-Length: 2, 3\r\n\r\nok', /conflicting Content-Length/)
  for (const value of ['', '-1', '+2', '2x', '0x2', '2,', ',2', '1 2', '1234567890123456']) {
    refuses(t, `HTTP/1.1 200 OK\r\nContent-Length: ${value}\r\n\r\n`, /invalid Content-Length/)
  }
})

t.test('a header section over 16 KiB is refused without waiting for its end', async t => {
  const big = `HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(MAX_HEADER_BYTES)}\r\n\r\n`
  const p = new ResponseParser()
  p.reset(100)
  t.throws(() => p.push(Buffer.from(big)), { code: 'ERR_HTTP_REPLY_INVALID', message: /header section over 16384 B/ })
  const q = new ResponseParser()
  q.reset(100)
  t.throws(() => { for (let i = 0; i < big.length; i += 1000) q.push(Buffer.from(big.slice(i, i + 1000))) },
    { message: /header section over 16384 B/ })
  // Many small headers add up to the same limit.
  const r = new ResponseParser()
  r.reset(100)
  t.throws(() => r.push(Buffer.from(`HTTP/1.1 200 OK\r\n${'X-A: b\r\n'.repeat(3000)}\r\n`)), { message: /header section over/ })
  // Just under the limit is fine.
  const head = 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n'
  const fill = MAX_HEADER_BYTES - head.length - 2 - 'X-Fill: \r\n'.length
  const s = new ResponseParser()
  s.reset(100)
  t.equal(s.push(Buffer.from(`${head}X-Fill: ${'f'.repeat(fill)}\r\n\r\n`)), true, 'exactly 16 KiB')
})

t.test('oversized trailers and chunk size lines are refused', async t => {
  const p = new ResponseParser()
  p.reset(100)
  t.throws(() => p.push(Buffer.from(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: ${'t'.repeat(MAX_HEADER_BYTES)}\r\n\r\n`)),
    { message: /header section over/ })
  const q = new ResponseParser()
  q.reset(100)
  q.push(Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;'))
  t.throws(() => q.push(Buffer.alloc(MAX_HEADER_BYTES, 'e')), { message: /chunk size line over/ })
  const r = new ResponseParser()
  r.reset(100)
  t.throws(() => r.push(Buffer.from(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;${'e'.repeat(MAX_HEADER_BYTES)}\r\n`)),
    { message: /chunk size line over/ })
})

t.test('malformed status lines are refused', async t => {
  for (const line of ['HTTP/1.1 200OK', 'HTTP/2.0 200 OK', 'HTTP/1.2 200 OK', 'http/1.1 200 OK', 'HTTP/1.1  200 OK',
    'HTTP/1.1 20 OK', 'HTTP/1.1 2000 OK', 'HTTP/1.1 099 Low', 'HTTP/1.1 abc OK', 'HTTP/1.1', 'ICY 200 OK', 'garbage',
    'HTTP/1.1 200 O\x00K', 'HTTP/1.1-200 OK']) {
    refuses(t, `${line}\r\nContent-Length: 0\r\n\r\n`, /status line|reason phrase/)
  }
})

t.test('lines must end with CRLF', async t => {
  refuses(t, 'HTTP/1.1 200 OK\nContent-Length: 0\n\n', /CRLF/)
  refuses(t, 'HTTP/1.1 200 OK\r\nContent-Length: 0\n\r\n', /CRLF/)
  refuses(t, 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nabc\r\n0\r\n\r\n', /chunk data not followed by CRLF/)
  refuses(t, 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\rX0\r\n\r\n', /chunk data not followed by CRLF/)
})

t.test('malformed header lines are refused', async t => {
  for (const line of ['Content-Length : 0', ' Leading: fold', 'No colon', ': empty name', 'Bad Name: x', 'X-A: a\x00b',
    'X-A: a\rb', 'X-A: a\x7fb', 'X-\u00e9: x']) {
    refuses(t, `HTTP/1.1 200 OK\r\n${line}\r\nContent-Length: 0\r\n\r\n`, /header line|header value/)
  }
})

t.test('an obs-fold continues an ignored header, but never a framing one', async t => {
  parsesAs(t, 'HTTP/1.1 200 OK\r\nX-Long: a\r\n  b\r\n\tc\r\nContent-Length: 1\r\n\r\nx', { status: 200, keepAlive: true, body: 'x' })
  refuses(t, 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\n 0\r\n\r\nx', /folded header line/)
  refuses(t, 'HTTP/1.1 200 OK\r\nConnection: keep-alive\r\n close\r\nContent-Length: 0\r\n\r\n', /folded header line/)
  refuses(t, 'HTTP/1.1 200 OK\r\nX-A: a\r\n b\x00\r\nContent-Length: 0\r\n\r\n', /header value/)
})

t.test('ambiguous framing is refused', async t => {
  refuses(t, 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n', /both Transfer-Encoding and Content-Length/)
  refuses(t, 'HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', /HTTP\/1.0/)
  refuses(t, 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n', /not the last transfer coding/)
  refuses(t, 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n', /not the last transfer coding/)
  refuses(t, 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip,,chunked\r\n\r\n', /invalid Transfer-Encoding/)
  refuses(t, 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n', /101/)
})

t.test('malformed chunks are refused', async t => {
  for (const size of ['', 'g', ' 1', '-1', '1x', '12345678901234', '1;a\x00b']) {
    refuses(t, `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${size}\r\n`, /chunk size|chunk extension/)
  }
  refuses(t, 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nbad trailer\r\n\r\n', /header line/)
})
