import t from 'tap'
import { join } from 'node:path'
import { writeFileSync, mkdirSync } from 'node:fs'
import { startCoordinator, post, goUrl } from '../fixtures/coordinator.js'
import { startFakeProvider } from '../fixtures/fake-provider.js'
import { startHttpHook, startUnixHook } from '../fixtures/hook-sink.js'
import { sendFrame } from '../fixtures/wire.js'

t.test('an HTTP request with an HTTP hook: ack, provider gets our response socket, response delivered', async t => {
  const c = await startCoordinator(t)
  const hook = await startHttpHook()
  t.teardown(() => hook.close())
  const provider = await startFakeProvider({
    path: join(c.dir, 'Capture', '10-capture.sock'),
    reply: () => ({ result: '{"captured":true}' })
  })
  t.teardown(() => provider.close())

  const body = JSON.stringify({ id: 'cap-a1', task: 'Capture', taskURL: null, responseHook: goUrl('http', `127.0.0.1:${hook.port}`, '/hook-a1'), streamURL: null, args: { k: 'v' } })
  const answer = await post(c.url('/'), body)
  t.equal(answer.status, 200)
  t.equal(answer.headers['content-type'], 'application/json')
  t.equal(answer.body, '{"error":"","id":"cap-a1","result":null,"streamURL":null}')

  const received = JSON.parse(provider.received[0] ?? '{}')
  t.same(received.responseHook, goUrl('unix', '', c.coordinator.addresses.responseSocket))
  t.same(received.args, { k: 'v' })

  const [delivered] = await hook.waitFor(1)
  t.equal(delivered?.path, '/hook-a1')
  t.equal(delivered?.raw, '{"error":"","id":"cap-a1","result":{"captured":true},"streamURL":null}')
  t.equal(delivered?.headers?.['content-type'], 'application/json')
  t.equal(c.coordinator.tracker.size, 0)
})

t.test('an internal request with a unix hook is passed through untouched and untracked', async t => {
  const c = await startCoordinator(t)
  const hookPath = join(c.dir, 'unixhook.sock')
  const hook = await startUnixHook(hookPath)
  t.teardown(() => hook.close())
  const provider = await startFakeProvider({ path: join(c.dir, 'Late', '10-capture.sock'), reply: () => ({ result: '1' }) })
  t.teardown(() => provider.close())

  const sent = JSON.stringify({ id: 'int-1', task: 'Late', taskURL: null, responseHook: goUrl('unix', '', hookPath), streamURL: null, args: { k: 'v' } })
  const ack = await sendFrame(c.coordinator.addresses.requestSocket, sent)
  t.equal(ack, '{"error":"","id":"int-1","result":null,"streamURL":null}')
  t.equal(provider.received[0], sent, 'the provider gets the very bytes sent')
  t.equal(c.coordinator.tracker.size, 0, 'not tracked')
  const [delivered] = await hook.waitFor(1)
  t.equal(delivered?.json.id, 'int-1')
})

t.test('an internal request with an HTTP hook is tracked and its response delivered over HTTP', async t => {
  const c = await startCoordinator(t)
  const hook = await startHttpHook()
  t.teardown(() => hook.close())
  const provider = await startFakeProvider({ path: join(c.dir, 'T', '1-p.sock'), reply: () => ({ result: '"done"' }) })
  t.teardown(() => provider.close())
  const ack = await sendFrame(c.coordinator.addresses.requestSocket,
    JSON.stringify({ id: 'i-http', task: 'T', responseHook: goUrl('http', `127.0.0.1:${hook.port}`, '/h') }))
  t.equal(JSON.parse(ack).error, '')
  const [delivered] = await hook.waitFor(1)
  t.equal(delivered?.raw, '{"error":"","id":"i-http","result":"done","streamURL":null}')
})

t.test('an unknown task is refused over both ingresses', async t => {
  const c = await startCoordinator(t)
  const answer = await post(c.url('/'), JSON.stringify({ id: 'u1', task: 'Nope', responseHook: 'http://127.0.0.1:9/h' }))
  t.equal(answer.status, 404)
  t.equal(answer.body, '{"error":"no providers available for task","id":"u1","result":null,"streamURL":null}')
  const ack = await sendFrame(c.coordinator.addresses.requestSocket, JSON.stringify({ id: 'u2', task: 'Nope' }))
  t.equal(ack, '{"error":"no providers available for task","id":"u2","result":null,"streamURL":null}')
  t.equal(c.coordinator.tracker.size, 0)
})

t.test('malformed and invalid requests get an error ack and a 400', async t => {
  const c = await startCoordinator(t)
  const cases: Array<[string, string]> = [
    ['{"id":', 'ERR'],
    ['hello', 'ERR'],
    ['', 'ERR'],
    ['{"task":"T"}', 'missing id'],
    ['{"id":"x"}', 'request missing task'],
    ['{"id":7,"task":"T"}', 'ERR'],
    ['[1,2]', 'ERR']
  ]
  for (const [body, expected] of cases) {
    const answer = await post(c.url('/'), body)
    t.equal(answer.status, 400, `status for ${JSON.stringify(body)}`)
    const ack = JSON.parse(answer.body)
    t.not(ack.error, '', `error for ${JSON.stringify(body)}`)
    if (expected !== 'ERR') t.equal(ack.error, expected)
  }
})

t.test('failover: a stale socket, a provider that acks an error and one that never acks are skipped', async t => {
  const c = await startCoordinator(t, { dispatch_timeout: 0.2 })
  const dir = join(c.dir, 'F')
  mkdirSync(dir, { recursive: true })
  const refusing = await startFakeProvider({ path: join(dir, '1-error.sock'), ack: 'error-ack' })
  t.teardown(() => refusing.close())
  const silent = await startFakeProvider({ path: join(dir, '2-silent.sock'), ack: 'never-ack' })
  t.teardown(() => silent.close())
  const closing = await startFakeProvider({ path: join(dir, '3-close.sock'), ack: 'close' })
  t.teardown(() => closing.close())
  const good = await startFakeProvider({ path: join(dir, '4-good.sock') })
  t.teardown(() => good.close())

  const ack = await sendFrame(c.coordinator.addresses.requestSocket, JSON.stringify({ id: 'f1', task: 'F' }))
  t.equal(JSON.parse(ack).error, '')
  t.equal(refusing.received.length, 1)
  t.equal(silent.received.length, 1)
  t.equal(closing.received.length, 1)
  t.equal(good.received.length, 1)
})

t.test('when every provider fails, the client gets the last error and a 502', async t => {
  const c = await startCoordinator(t)
  const hook = await startHttpHook()
  t.teardown(() => hook.close())
  const refusing = await startFakeProvider({ path: join(c.dir, 'G', '1-error.sock'), ack: 'error-ack' })
  t.teardown(() => refusing.close())
  const answer = await post(c.url('/'), JSON.stringify({ id: 'g1', task: 'G', responseHook: hook.url() }))
  t.equal(answer.status, 502)
  t.equal(JSON.parse(answer.body).error, 'provider refuses')
  t.equal(c.coordinator.tracker.size, 0, 'untracked again')
})

t.test('non-socket files are ignored and providers are tried in numeric priority order', async t => {
  const c = await startCoordinator(t)
  const dir = join(c.dir, 'P')
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, '0-file.sock'), 'not a socket')
  mkdirSync(join(dir, '0-dir.sock'))
  const order: string[] = []
  const names = ['100-a.sock', '50-b.sock', '7-c.sock']
  for (const name of names) {
    const p = await startFakeProvider({ path: join(dir, name), ack: 'error-ack', reply: () => null })
    t.teardown(() => p.close())
    const push = p.received.push.bind(p.received)
    p.received.push = (...items: string[]) => { order.push(name); return push(...items) }
  }
  const ack = await sendFrame(c.coordinator.addresses.requestSocket, JSON.stringify({ id: 'p1', task: 'P' }))
  t.equal(JSON.parse(ack).error, 'provider refuses')
  t.same(order, ['7-c.sock', '50-b.sock', '100-a.sock'])
})

t.test('a tracked request whose response never comes gets "response timeout"', async t => {
  const c = await startCoordinator(t, { request_timeout: 0.2 })
  const hook = await startHttpHook()
  t.teardown(() => hook.close())
  const provider = await startFakeProvider({ path: join(c.dir, 'Slow', '1-p.sock'), reply: () => null })
  t.teardown(() => provider.close())
  const answer = await post(c.url('/'), JSON.stringify({ id: 'to1', task: 'Slow', responseHook: hook.url('/hook-d-timeout') }))
  t.equal(answer.status, 200)
  const [delivered] = await hook.waitFor(1)
  t.equal(delivered?.raw, '{"error":"response timeout","id":"to1","result":null,"streamURL":null}')
  t.equal(c.coordinator.tracker.size, 0)
})

t.test('a late response is acked and dropped; the hook hears only the timeout', async t => {
  const c = await startCoordinator(t, { request_timeout: 0.15 })
  const hook = await startHttpHook()
  t.teardown(() => hook.close())
  const provider = await startFakeProvider({ path: join(c.dir, 'Late', '1-p.sock'), reply: () => ({ result: '1', delayMs: 400 }) })
  t.teardown(() => provider.close())
  await post(c.url('/'), JSON.stringify({ id: 'late1', task: 'Late', responseHook: hook.url() }))
  await hook.waitFor(1)
  // the late one, sent straight to the response socket, is acked with an empty id
  const ack = await sendFrame(c.coordinator.addresses.responseSocket, '{"id":"late1","result":2,"streamURL":null,"error":""}')
  t.equal(ack, '{"error":"","id":"","result":null,"streamURL":null}')
  await new Promise(resolve => setTimeout(resolve, 500))
  t.equal(hook.delivered.length, 1)
  t.equal(hook.delivered[0]?.json.error, 'response timeout')
})

t.test('a duplicate id is refused and the first request keeps its tracking', async t => {
  const c = await startCoordinator(t)
  const hook = await startHttpHook()
  t.teardown(() => hook.close())
  let n = 0
  const provider = await startFakeProvider({ path: join(c.dir, 'D', '1-p.sock'), reply: () => ({ result: String(++n), delayMs: 200 }) })
  t.teardown(() => provider.close())
  const body = JSON.stringify({ id: 'cap-dup', task: 'D', responseHook: hook.url() })
  t.equal((await post(c.url('/'), body)).status, 200)
  const second = await post(c.url('/'), body)
  t.equal(second.status, 400)
  t.equal(second.body, '{"error":"request id already tracked","id":"cap-dup","result":null,"streamURL":null}')
  const [delivered] = await hook.waitFor(1)
  t.equal(delivered?.json.result, 1, 'the first request got its response')
  t.equal(provider.received.length, 1, 'the duplicate never reached a provider')
})

t.test('localhost in a hook is replaced by the client host, keeping the port', async t => {
  const c = await startCoordinator(t)
  const hook = await startHttpHook('127.0.0.2')
  t.teardown(() => hook.close())
  const provider = await startFakeProvider({ path: join(c.dir, 'L', '1-p.sock'), reply: () => ({ result: '"hi"' }) })
  t.teardown(() => provider.close())
  const body = JSON.stringify({ id: 'loc1', task: 'L', responseHook: `http://localhost:${hook.port}/back` })
  const answer = await post(c.url('/'), body, { localAddress: '127.0.0.2' })
  t.equal(answer.status, 200)
  const [delivered] = await hook.waitFor(1)
  t.equal(delivered?.path, '/back')
  t.equal(delivered?.raw, '{"error":"","id":"loc1","result":"hi","streamURL":null}', 'strings in, strings out')
})

t.test('64-bit integers in args and result travel byte-exact', async t => {
  const c = await startCoordinator(t)
  const hook = await startHttpHook()
  t.teardown(() => hook.close())
  const args = '{"n":18446744073709551615,"f":1.0e400,"s":"\\u00e9"}'
  const result = '{"big":18446744073709551615, "x" : [1.50]}'
  const provider = await startFakeProvider({ path: join(c.dir, 'Big', '1-p.sock'), reply: () => ({ result }) })
  t.teardown(() => provider.close())
  await post(c.url('/'), `{"id":"big1","task":"Big","responseHook":"${hook.url()}","args":${args}}`)
  const [delivered] = await hook.waitFor(1)
  t.ok(provider.received[0]?.endsWith(`"args":${args}}`), 'args as sent')
  t.equal(delivered?.raw, `{"error":"","id":"big1","result":${result},"streamURL":null}`)
})

t.test('a client that used string URLs gets strings back; providers get Go objects', async t => {
  const c = await startCoordinator(t)
  const hook = await startHttpHook()
  t.teardown(() => hook.close())
  const provider = await startFakeProvider({
    path: join(c.dir, 'S', '1-p.sock'),
    reply: () => ({ streamURL: JSON.stringify(goUrl('unix', '', '/run/x/stream.sock')) })
  })
  t.teardown(() => provider.close())
  await post(c.url('/'), JSON.stringify({ id: 's1', task: 'S', responseHook: hook.url() }))
  const received = JSON.parse(provider.received[0] ?? '{}')
  t.equal(received.responseHook.Scheme, 'unix', 'Go object form to the provider')
  const [delivered] = await hook.waitFor(1)
  t.equal(typeof delivered?.json.streamURL, 'string')
  t.equal(delivered?.json.streamURL, `http://localhost:${c.coordinator.addresses.httpPort}/stream?addr=unix%3A%2F%2F%2Frun%2Fx%2Fstream.sock`)
})

t.test('1000 concurrent requests are all delivered exactly once', async t => {
  const c = await startCoordinator(t, { request_timeout: 10 })
  const hook = await startHttpHook()
  t.teardown(() => hook.close())
  const provider = await startFakeProvider({ path: join(c.dir, 'Many', '1-p.sock'), reply: r => ({ result: JSON.stringify(r.id) }) })
  t.teardown(() => provider.close())
  const N = 1000
  const acks = await Promise.all(Array.from({ length: N }, (_, i) =>
    post(c.url('/'), JSON.stringify({ id: `m${i}`, task: 'Many', responseHook: hook.url() }))))
  t.equal(acks.filter(a => a.status === 200).length, N)
  await hook.waitFor(N, 20000)
  await new Promise(resolve => setTimeout(resolve, 100))
  const ids = hook.delivered.map(d => d.json.id)
  t.equal(ids.length, N, 'no duplicate delivery')
  t.equal(new Set(ids).size, N)
  t.ok(hook.delivered.every(d => d.json.result === d.json.id), 'each response went to its own request')
})
