import t from 'tap'
import { parseUrlString } from '../../src/core/go-url.js'
import { openStream } from '../../src/provider/stream-source.js'
import { startFirstBytesServer, TLS_HANDSHAKE } from '../fixtures/first-bytes.js'

// node:https is loaded with the first https stream, not when the module is imported.

t.test('openStream: an https URL is opened over TLS, an http one in the clear', async t => {
  const seen = await startFirstBytesServer(t)
  // The server hangs up after the ClientHello: the handshake cannot finish.
  await t.rejects(openStream(parseUrlString(`https://127.0.0.1:${seen.port}/a`), { timeoutMs: 2000 }), { code: 'ERR_STREAM_OPEN' })
  await t.rejects(openStream(parseUrlString(`https://127.0.0.1:${seen.port}/b`), { timeoutMs: 2000 }), { code: 'ERR_STREAM_OPEN' })
  await t.rejects(openStream(parseUrlString(`http://127.0.0.1:${seen.port}/c`), { timeoutMs: 2000 }), { code: 'ERR_STREAM_OPEN' })
  t.same(seen.first.map(b => b[0]), [TLS_HANDSHAKE, TLS_HANDSHAKE, 'G'.charCodeAt(0)])
  t.equal(seen.first[2]?.toString('latin1').split('\r\n')[0], 'GET /c HTTP/1.1')
})
