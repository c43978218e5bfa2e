import t from 'tap'
import { StreamSources } from '../../src/http/stream-pipe.js'
import { startFirstBytesServer, TLS_HANDSHAKE } from '../fixtures/first-bytes.js'

// node:https is loaded with the first https source, not when the module is imported.

t.test('openHttp: an https source is opened over TLS, an http one in the clear', async t => {
  const seen = await startFirstBytesServer(t)
  const s = new StreamSources({ timeoutMs: 2000 })
  t.teardown(() => { s.close() })
  // The server hangs up after the ClientHello: the handshake cannot finish.
  await t.rejects(s.openHttp(`https://127.0.0.1:${seen.port}/a`), { code: 'ERR_STREAM_SOURCE', message: /cannot be reached/ })
  await t.rejects(s.openHttp(`https://127.0.0.1:${seen.port}/b`), { code: 'ERR_STREAM_SOURCE', message: /cannot be reached/ }, 'the loaded agent is used again')
  await t.rejects(s.openHttp(`http://127.0.0.1:${seen.port}/c`), { code: 'ERR_STREAM_SOURCE' })
  t.same(seen.first.map(b => b[0]), [TLS_HANDSHAKE, TLS_HANDSHAKE, 'G'.charCodeAt(0)])
  t.equal(seen.first[2]?.toString('latin1').split('\r\n')[0], 'GET /c HTTP/1.1')
})

t.test('openHttp: close() while node:https loads refuses the https open, which connects nowhere', async t => {
  const seen = await startFirstBytesServer(t)
  const s = new StreamSources({ timeoutMs: 2000 })
  const opening = s.openHttp(`https://127.0.0.1:${seen.port}/a`)
  s.close()
  await t.rejects(opening, { code: 'ERR_STREAM_SOURCE', message: /not opened: closing/ })
  await new Promise(resolve => setTimeout(resolve, 50))
  t.same(seen.first, [], 'no connection was made')
  await t.rejects(s.openHttp(`https://127.0.0.1:${seen.port}/b`), { code: 'ERR_STREAM_SOURCE', message: /not opened: closing/ })
})
