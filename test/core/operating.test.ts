import t from 'tap'
import { chmodSync, existsSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { createServer, type Server } from 'node:net'
import { join } from 'node:path'
import { buildConfig } from '../../src/core/config.js'
import { Coordinator } from '../../src/core/coordinator.js'
import { parseUrlString } from '../../src/core/go-url.js'
import { isPeerProxyHook } from '../../src/core/peer-auth.js'
import { BearerToken } from '../../src/http/auth.js'
import { freePort, runCoordinator } from '../fixtures/cli.js'
import { goUrl, socketDir, startCoordinator, type TestCoordinator } from '../fixtures/coordinator.js'
import { startFakeProvider } from '../fixtures/fake-provider.js'
import { startHttpHook } from '../fixtures/hook-sink.js'
import { parseExposition, type Exposition } from '../fixtures/prometheus.js'
import { sendFrame } from '../fixtures/wire.js'

interface Answer {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: string
}

/** One HTTP exchange with any method and headers. */
function call (url: string, opts: { method?: string, headers?: Record<string, string>, body?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: opts.method ?? 'GET', headers: opts.headers ?? {} }, res => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }) })
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(opts.body)
  })
}

async function scrape (c: TestCoordinator, headers: Record<string, string> = {}): Promise<Exposition> {
  const answer = await call(c.url('/metrics'), { headers })
  if (answer.status !== 200) throw new Error(`/metrics answered ${answer.status}`)
  return parseExposition(answer.body)
}

/** Scrapes until `check` passes (at most 3 s): responses and deliveries happen after the ack. */
async function scrapeUntil (c: TestCoordinator, check: (m: Exposition) => boolean): Promise<Exposition> {
  const end = Date.now() + 3000
  for (;;) {
    const m = await scrape(c)
    if (check(m) || Date.now() > end) return m
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}

function tokenFile (dir: string, content: string, name = 'token'): string {
  const file = join(dir, name)
  writeFileSync(file, content, { mode: 0o600 })
  return file
}

t.test('/healthz: 200 ok while serving, 503 draining while draining; open to HEAD, other methods are requests', async t => {
  const c = await startCoordinator(t)
  const ok = await call(c.url('/healthz'))
  t.equal(ok.status, 200)
  t.equal(ok.body, 'ok\n')
  t.match(ok.headers['content-type'], /^text\/plain/)
  t.equal(ok.headers['cache-control'], 'no-store')
  const head = await call(c.url('/healthz'), { method: 'HEAD' })
  t.equal(head.status, 200)
  t.equal(head.body, '')
  const posted = await call(c.url('/healthz'), { method: 'POST', body: '{}' })
  t.equal(posted.status, 400, 'a POST to /healthz is a (malformed) request, as it always was')

  const hook = await startHttpHook()
  t.teardown(() => hook.close())
  const provider = await startFakeProvider({ path: join(c.dir, 'Slow', '1-p.sock'), reply: () => ({ result: '1', delayMs: 400 }) })
  t.teardown(() => provider.close())
  const accepted = await call(c.url('/'), {
    method: 'POST', body: JSON.stringify({ id: 'h1', task: 'Slow', responseHook: hook.url('/h') })
  })
  t.equal(accepted.status, 200)
  const stopping = c.coordinator.stop()
  const draining = await call(c.url('/healthz'))
  t.equal(draining.status, 503)
  t.equal(draining.body, 'draining\n')
  const metrics = await scrape(c)
  t.equal(metrics.value('coordinator_draining'), 1)
  await stopping
  t.equal(hook.delivered.length, 1, 'the tracked request was still answered')
})

t.test('/metrics: Prometheus text whose values move as requests flow', async t => {
  const c = await startCoordinator(t, { request_timeout: 0.5, hook_retries: 1 })
  const hook = await startHttpHook()
  t.teardown(() => hook.close())
  const work = await startFakeProvider({ path: join(c.dir, 'Work', '10-p.sock'), reply: () => ({ result: '"done"' }) })
  t.teardown(() => work.close())
  const quiet = await startFakeProvider({ path: join(c.dir, 'Quiet', '10-q.sock'), reply: () => null })
  t.teardown(() => quiet.close())

  const answer = await call(c.url('/metrics'))
  t.equal(answer.status, 200)
  t.equal(answer.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8')
  const before = parseExposition(answer.body)
  for (const [name, family] of before.families) {
    t.match(name, /^coordinator_[a-z0-9_]+$/, `${name}: prefix`)
    if (family.type === 'counter') t.match(name, /_total$/, `${name}: counters end in _total`)
    t.not(family.help, '', `${name}: has a help text`)
  }
  t.equal(before.value('coordinator_requests_total', { ingress: 'http', outcome: 'accepted' }), 0)
  t.equal(before.value('coordinator_requests_total', { ingress: 'unix', outcome: 'accepted' }), 0)
  t.equal(before.value('coordinator_dispatch_duration_seconds_count'), 0)
  t.equal(before.value('coordinator_tracked_requests'), 0)
  t.ok((before.value('coordinator_process_resident_memory_bytes') ?? 0) > 1e6, 'RSS')
  t.ok((before.value('coordinator_process_heap_used_bytes') ?? 0) > 0, 'heap used')
  t.ok((before.value('coordinator_process_heap_total_bytes') ?? 0) > 0, 'heap total')
  t.ok(Math.abs((before.value('coordinator_process_start_time_seconds') ?? 0) - Date.now() / 1000) < 3600, 'start time')
  for (const quantile of ['0.5', '0.99', '1']) {
    t.ok((before.value('coordinator_event_loop_delay_seconds', { quantile }) ?? -1) >= 0, `event loop delay ${quantile}`)
  }
  t.equal(before.value('coordinator_draining'), 0)

  const hookUrl = (path: string): Record<string, unknown> => goUrl('http', `127.0.0.1:${hook.port}`, path)
  // accepted over HTTP, answered
  t.equal((await call(c.url('/'), { method: 'POST', body: JSON.stringify({ id: 'm1', task: 'Work', responseHook: hookUrl('/1') }) })).status, 200)
  // refused: no provider
  t.equal((await call(c.url('/'), { method: 'POST', body: JSON.stringify({ id: 'm2', task: 'Missing' }) })).status, 404)
  // refused: malformed
  t.equal((await call(c.url('/'), { method: 'POST', body: '{"id":' })).status, 400)
  // accepted on the unix socket, answered over HTTP
  t.match(await sendFrame(c.coordinator.addresses.requestSocket, JSON.stringify({ id: 'm3', task: 'Work', responseHook: hookUrl('/3') })), '"error":""')
  // accepted, never answered: times out
  t.equal((await call(c.url('/'), { method: 'POST', body: JSON.stringify({ id: 'm4', task: 'Quiet', responseHook: hookUrl('/4') }) })).status, 200)
  const inFlight = await scrape(c)
  t.equal(inFlight.value('coordinator_tracked_requests'), 1, 'the quiet one is tracked')
  // accepted, answered, but its hook is gone: undeliverable
  const deadPort = await freePort()
  t.equal((await call(c.url('/'), {
    method: 'POST', body: JSON.stringify({ id: 'm5', task: 'Work', responseHook: goUrl('http', `127.0.0.1:${deadPort}`, '/gone') })
  })).status, 200)
  // a response for nothing tracked
  await sendFrame(c.coordinator.addresses.responseSocket, '{"id":"nobody","result":null,"streamURL":null,"error":""}')

  const after = await scrapeUntil(c, m =>
    m.value('coordinator_responses_timed_out_total') === 1 &&
    m.value('coordinator_responses_undeliverable_total') === 1 &&
    m.value('coordinator_responses_delivered_total') === 3 &&
    m.value('coordinator_responses_unmatched_total') === 1)
  t.equal(after.value('coordinator_requests_total', { ingress: 'http', outcome: 'accepted' }), 3)
  t.equal(after.value('coordinator_requests_total', { ingress: 'unix', outcome: 'accepted' }), 1)
  t.equal(after.value('coordinator_requests_total', { ingress: 'http', outcome: 'refused', reason: 'ERR_NO_PROVIDERS' }), 1)
  t.equal(after.value('coordinator_requests_total', { ingress: 'http', outcome: 'refused', reason: 'ERR_MESSAGE_JSON' }), 1)
  t.equal(after.value('coordinator_dispatch_duration_seconds_count'), 4, 'one dispatch per request that reached providers')
  t.ok((after.value('coordinator_dispatch_duration_seconds_sum') ?? 0) > 0)
  t.equal(after.value('coordinator_dispatch_providers_tried_count'), 4)
  t.equal(after.value('coordinator_dispatch_providers_tried_sum'), 4)
  t.equal(after.value('coordinator_dispatch_providers_tried_bucket', { le: '1' }), 4)
  t.equal(after.value('coordinator_provider_failures_total'), 0)
  t.equal(after.value('coordinator_tracked_requests'), 0)
  t.equal(after.value('coordinator_responses_delivered_total'), 3, 'two responses and one timeout')
  t.equal(after.value('coordinator_responses_timed_out_total'), 1)
  t.equal(after.value('coordinator_responses_undeliverable_total'), 1)
  t.equal(after.value('coordinator_responses_unmatched_total'), 1)
  t.equal(after.value('coordinator_hook_delivery_retries_total'), c.coordinator.delivery.counts.retries)
  t.equal(hook.delivered.length, 3)
})

t.test('/metrics: stream bytes and active streams', async t => {
  const c = await startCoordinator(t)
  const hook = await startHttpHook()
  t.teardown(() => hook.close())
  const payload = 'x'.repeat(100_000)
  const sourcePath = join(c.dir, 'source.sock')
  const source: Server = createServer(socket => { socket.on('error', () => {}); socket.end(payload) })
  await new Promise<void>(resolve => source.listen(sourcePath, resolve))
  t.teardown(() => new Promise<void>(resolve => source.close(() => { resolve() })))
  const provider = await startFakeProvider({
    path: join(c.dir, 'Streamer', '1-p.sock'),
    reply: () => ({ result: 'null', streamURL: JSON.stringify(goUrl('unix', '', sourcePath)) })
  })
  t.teardown(() => provider.close())
  await call(c.url('/'), { method: 'POST', body: JSON.stringify({ id: 's1', task: 'Streamer', responseHook: hook.url('/s') }) })
  const [delivered] = await hook.waitFor(1)
  // The client wrote its hook as a string: it gets its stream URL as one.
  const streamURL = new URL(String(delivered?.json.streamURL))
  t.equal(streamURL.pathname, '/stream')
  const got = await call(c.url(`/stream${streamURL.search}`))
  t.equal(got.status, 200)
  t.equal(got.body.length, payload.length)
  const m = await scrapeUntil(c, m => m.value('coordinator_streams_active') === 0)
  t.equal(m.value('coordinator_stream_bytes_total'), payload.length)
  t.equal(m.value('coordinator_streams_active'), 0)
  t.equal(m.value('coordinator_streams_failed_total'), 0)
  t.equal((await call(c.url('/stream?addr=unix%3A%2F%2F%2Fetc%2Fnot-issued.sock'))).status, 403)
  t.equal((await scrape(c)).value('coordinator_streams_refused_total'), 1)
})

t.test('/tasks: task directories and their providers in the order the next request tries them', async t => {
  const c = await startCoordinator(t, { provider_cooldown: 30 })
  const a = await startFakeProvider({ path: join(c.dir, 'Alpha', '10-a.sock') })
  t.teardown(() => a.close())
  const b = await startFakeProvider({ path: join(c.dir, 'Alpha', '10-b.sock'), ack: 'error-ack' })
  t.teardown(() => b.close())
  const cc = await startFakeProvider({ path: join(c.dir, 'Alpha', '20-c.sock') })
  t.teardown(() => cc.close())
  const x = await startFakeProvider({ path: join(c.dir, 'Beta', '1-x.sock') })
  t.teardown(() => x.close())
  mkdirSync(join(c.dir, 'Empty'))
  writeFileSync(join(c.dir, 'not-a-task.txt'), '')
  symlinkSync(join(c.dir, 'Beta'), join(c.dir, 'BetaLink'))
  symlinkSync(join(c.dir, 'not-a-task.txt'), join(c.dir, 'FileLink'))

  const first = await call(c.url('/tasks'))
  t.equal(first.status, 200)
  t.equal(first.headers['content-type'], 'application/json')
  const listing = JSON.parse(first.body)
  t.equal(listing.socketDir, c.dir)
  t.same(listing.tasks.map((task: { task: string }) => task.task), ['Alpha', 'Beta', 'BetaLink', 'Empty'],
    'the coordinator\'s own directories, files and links to files are not tasks')
  t.same(listing.tasks[0].providers, [
    { socket: join(c.dir, 'Alpha', '10-a.sock'), answered: null, lastDispatchAt: null, lastError: '', coolingDownMs: 0 },
    { socket: join(c.dir, 'Alpha', '10-b.sock'), answered: null, lastDispatchAt: null, lastError: '', coolingDownMs: 0 },
    { socket: join(c.dir, 'Alpha', '20-c.sock'), answered: null, lastDispatchAt: null, lastError: '', coolingDownMs: 0 }
  ])
  t.same(listing.tasks[2].providers.map((p: { socket: string }) => p.socket), [join(c.dir, 'BetaLink', '1-x.sock')])
  t.same(listing.tasks[3].providers, [])

  // The first request starts at 10-a (acks), the second at 10-b (refuses), then 10-a takes it.
  for (const id of ['t1', 't2']) {
    t.equal((await call(c.url('/'), { method: 'POST', body: JSON.stringify({ id, task: 'Alpha' }) })).status, 200)
  }
  t.equal(a.received.length, 2)
  t.equal(b.received.length, 1)
  const again = JSON.parse((await call(c.url('/tasks'))).body)
  const [pa, pc, pb] = again.tasks[0].providers
  t.same(again.tasks[0].providers.map((p: { socket: string }) => p.socket),
    [join(c.dir, 'Alpha', '10-a.sock'), join(c.dir, 'Alpha', '20-c.sock'), join(c.dir, 'Alpha', '10-b.sock')],
    'the failed provider cools down behind every other one')
  t.equal(pa.answered, true)
  t.equal(pa.lastError, '')
  t.ok(Math.abs(Date.parse(pa.lastDispatchAt) - Date.now()) < 10_000)
  t.equal(pb.answered, false)
  t.equal(pb.lastError, 'provider refuses')
  t.ok(pb.coolingDownMs > 25_000 && pb.coolingDownMs <= 30_000, `cooling down ${pb.coolingDownMs} ms`)
  t.equal(pc.answered, null)
  t.same(again.tasks[1].providers.map((p: { answered: unknown }) => p.answered), [null])
  const m = await scrape(c)
  t.equal(m.value('coordinator_provider_failures_total'), 1)
  t.equal(m.value('coordinator_providers_cooling_down'), 1)
  t.equal(m.value('coordinator_dispatch_providers_tried_sum'), 3)
})

t.test('/tasks: no task directory, then no socket directory at all: an empty list', async t => {
  const c = await startCoordinator(t)
  t.same(JSON.parse((await call(c.url('/tasks'))).body).tasks, [])
  rmSync(c.dir, { recursive: true, force: true })
  const gone = await call(c.url('/tasks'))
  t.equal(gone.status, 200)
  t.same(JSON.parse(gone.body).tasks, [])
})

t.test('auth token: every endpoint but /healthz needs it; 401 with a challenge, counted by route', async t => {
  const dir = socketDir()
  const token = 'T0k3n-for.tests_~+/='
  const c = await startCoordinator(t, { auth_token_file: tokenFile(dir, `${token}\n`) }, { dir })
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  const provider = await startFakeProvider({ path: join(c.dir, 'Work', '1-p.sock') })
  t.teardown(() => provider.close())
  const good = { authorization: `Bearer ${token}` }
  const body = JSON.stringify({ id: 'a1', task: 'Work' })

  const none = await call(c.url('/'), { method: 'POST', body })
  t.equal(none.status, 401)
  t.equal(none.headers['www-authenticate'], 'Bearer realm="coordinator"')
  t.equal(none.headers.connection, 'close', 'the unread body is not taken for a next request')
  t.equal(none.body, '{"error":"unauthorized","id":"","result":null,"streamURL":null}')
  const wrong = await call(c.url('/'), { method: 'POST', body, headers: { authorization: `Bearer ${token}x` } })
  t.equal(wrong.status, 401)
  t.equal(wrong.headers['www-authenticate'], 'Bearer realm="coordinator", error="invalid_token"')
  t.equal((await call(c.url('/'), { method: 'POST', body, headers: { authorization: `Basic ${token}` } })).status, 401)
  t.equal((await call(c.url('/'), { method: 'POST', body, headers: { authorization: token } })).status, 401)
  t.equal(provider.received.length, 0, 'nothing refused reached a provider')

  t.equal((await call(c.url('/'), { method: 'POST', body, headers: good })).status, 200)
  t.equal((await call(c.url('/'), { method: 'POST', body: JSON.stringify({ id: 'a2', task: 'Work' }), headers: { authorization: `bearer   ${token}` } })).status, 200,
    'the scheme is case-insensitive')
  t.equal(provider.received.length, 2)

  const response = '{"id":"none","result":null,"streamURL":null,"error":""}'
  const guarded: Array<[string, string, string | undefined, number]> = [
    ['/proxy', 'POST', response, 200],
    ['/stream?addr=unix%3A%2F%2F%2Fx.sock', 'GET', undefined, 403],
    ['/stream', 'PUT', undefined, 405],
    ['/tasks', 'GET', undefined, 200],
    ['/metrics', 'GET', undefined, 200]
  ]
  for (const [path, method, sent, status] of guarded) {
    const refused = await call(c.url(path), { method, ...(sent === undefined ? {} : { body: sent }) })
    t.equal(refused.status, 401, `${method} ${path} without the token`)
    t.equal(refused.body, path === '/proxy' ? '{"error":"unauthorized","id":"","result":null,"streamURL":null}' : 'unauthorized\n')
    const allowed = await call(c.url(path), { method, headers: good, ...(sent === undefined ? {} : { body: sent }) })
    t.equal(allowed.status, status, `${method} ${path} with the token`)
  }
  const health = await call(c.url('/healthz'))
  t.equal(health.status, 200, '/healthz stays open')

  const m = await scrape(c, good)
  t.equal(m.value('coordinator_http_unauthorized_total', { route: 'request' }), 4)
  t.equal(m.value('coordinator_http_unauthorized_total', { route: 'proxy' }), 1)
  t.equal(m.value('coordinator_http_unauthorized_total', { route: 'stream' }), 2)
  t.equal(m.value('coordinator_http_unauthorized_total', { route: 'tasks' }), 1)
  t.equal(m.value('coordinator_http_unauthorized_total', { route: 'metrics' }), 1)
  t.equal(m.value('coordinator_requests_total', { ingress: 'http', outcome: 'accepted' }), 2)
})

t.test('auth token between peers: forwards and /proxy deliveries carry it, client hooks never see it', async t => {
  const dir = socketDir()
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  const token = 'federation-secret'
  const file = tokenFile(dir, token)
  const local = await startCoordinator(t, { auth_token_file: file })
  const remote = await startCoordinator(t, { auth_token_file: file })
  const hook = await startHttpHook()
  t.teardown(() => hook.close())
  const provider = await startFakeProvider({ path: join(remote.dir, 'CPUInfo', '10-p.sock'), reply: () => ({ result: '{"cpus":4}' }) })
  t.teardown(() => provider.close())

  const answer = await call(local.url('/'), {
    method: 'POST',
    headers: { authorization: `Bearer ${token}` },
    body: JSON.stringify({
      id: 'fed-auth',
      task: 'CPUInfo',
      taskURL: `http://127.0.0.1:${remote.coordinator.addresses.httpPort}/`,
      responseHook: hook.url('/client-hook')
    })
  })
  t.equal(answer.status, 200, 'the remote accepted the forward: it carried the token')
  const [delivered] = await hook.waitFor(1)
  t.same(delivered?.json.result, { cpus: 4 }, 'the remote delivered to our /proxy: it carried the token')
  t.equal(delivered?.headers?.authorization, undefined, 'the client hook gets no token')
  const lm = await scrape(local, { authorization: `Bearer ${token}` })
  const rm = await scrape(remote, { authorization: `Bearer ${token}` })
  t.equal(lm.sum('coordinator_http_unauthorized_total'), 0)
  t.equal(rm.sum('coordinator_http_unauthorized_total'), 0)

  // A peer with another token refuses the forward: its 401 ack is the client's answer.
  const other = await startCoordinator(t, { auth_token_file: tokenFile(dir, 'another-secret', 'other') })
  const refused = await call(local.url('/'), {
    method: 'POST',
    headers: { authorization: `Bearer ${token}` },
    body: JSON.stringify({ id: 'fed-bad', task: 'CPUInfo', taskURL: `http://127.0.0.1:${other.coordinator.addresses.httpPort}/`, responseHook: hook.url('/x') })
  })
  t.equal(refused.status, 502)
  t.equal(JSON.parse(refused.body).error, 'unauthorized')
  t.equal(local.coordinator.tracker.size, 0)
})

t.test('which hooks are a peer\'s /proxy: /proxy on the very host the request came from', async t => {
  const http = (client: string): { via: 'http', client: string } => ({ via: 'http', client })
  t.equal(isPeerProxyHook(parseUrlString('http://10.1.2.3:8080/proxy'), http('10.1.2.3')), true)
  t.equal(isPeerProxyHook(parseUrlString('https://10.1.2.3/proxy'), http('10.1.2.3')), true)
  t.equal(isPeerProxyHook(parseUrlString('http://[fd00::1]:8080/proxy'), http('fd00::1')), true)
  t.equal(isPeerProxyHook(parseUrlString('http://Peer.Example:8080/proxy'), http('peer.example')), true)
  t.equal(isPeerProxyHook(parseUrlString('http://10.9.9.9:8080/proxy'), http('10.1.2.3')), false, 'another host')
  t.equal(isPeerProxyHook(parseUrlString('http://10.1.2.3:8080/hook'), http('10.1.2.3')), false, 'another path')
  t.equal(isPeerProxyHook(parseUrlString('http://10.1.2.3:8080/proxy/'), http('10.1.2.3')), false)
  t.equal(isPeerProxyHook(parseUrlString('http://10.1.2.3:8080/proxy?x=1'), http('10.1.2.3')), false, 'a query')
  t.equal(isPeerProxyHook(parseUrlString('unix:///proxy'), http('10.1.2.3')), false)
  t.equal(isPeerProxyHook(parseUrlString('http://10.1.2.3:8080/proxy'), { via: 'unix', client: '' }), false, 'not over HTTP')
})

t.test('the bearer check: scheme case, spaces, and nothing else', async t => {
  const token = new BearerToken('abc')
  t.equal(token.header, 'Bearer abc')
  t.equal(token.accepts('Bearer abc'), true)
  t.equal(token.accepts('BEARER  abc'), true)
  t.equal(token.accepts('Bearer abc '), true)
  t.equal(token.accepts(undefined), false)
  t.equal(token.accepts(''), false)
  t.equal(token.accepts('Bearer'), false)
  t.equal(token.accepts('Bearerabc'), false)
  t.equal(token.accepts('Bearer ab'), false)
  t.equal(token.accepts('Bearer abcd'), false)
  t.equal(token.accepts('Bearer abc def'), false)
  t.equal(token.accepts('Token abc'), false)
  t.throws(() => new BearerToken('a b'), { code: 'ERR_AUTH_TOKEN_INVALID' })
  t.throws(() => new BearerToken(''), { code: 'ERR_AUTH_TOKEN_INVALID' })
})

t.test('a bad token file is a configuration error', async t => {
  const dir = socketDir()
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  const make = (file: string): Coordinator =>
    new Coordinator(buildConfig({ service_name: 'c', socket_dir: join(dir, 'sockets'), auth_token_file: file }))
  t.throws(() => make(join(dir, 'missing')), { code: 'ERR_CONFIG_INVALID', message: /^auth_token_file .*missing: cannot read it/ })
  t.throws(() => make(tokenFile(dir, ' \n\n', 'blank')), { code: 'ERR_CONFIG_INVALID', message: /blank: is empty/ })
  t.throws(() => make(tokenFile(dir, 'two words\n', 'spaced')), { code: 'ERR_CONFIG_INVALID', message: /one word of printable ASCII/ })
  t.throws(() => make(tokenFile(dir, 'x'.repeat(5000), 'huge')), { code: 'ERR_CONFIG_INVALID', message: /larger than 4096 bytes/ })
  t.throws(() => make(dir), { code: 'ERR_CONFIG_INVALID', message: /not a regular file/ })
  t.throws(() => buildConfig({ service_name: 'c', auth_token_file: '' }), { code: 'ERR_CONFIG_INVALID', message: /auth_token_file: must not be empty/ })
  t.equal(buildConfig({ service_name: 'c' }).authTokenFile, '', 'off by default')

  const readable = tokenFile(dir, 'fine\n', 'readable')
  chmodSync(readable, 0o644)
  const warnings: string[] = []
  const log = { debug () {}, info () {}, error () {}, fatal () {}, isEnabled: () => true, warn (msg: string) { warnings.push(msg) } }
  const coordinator = new Coordinator(buildConfig({ service_name: 'c', socket_dir: join(dir, 'sockets'), auth_token_file: readable }), { log })
  t.ok(coordinator)
  t.same(warnings, ['auth token file is readable by every user'])
  t.notOk(existsSync(join(dir, 'sockets')), 'constructing creates nothing')
})

t.test('CLI: --auth_token_file naming a missing file exits 2 before creating anything', async t => {
  const dir = socketDir()
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  const sockets = join(dir, 'never')
  const child = runCoordinator(t, ['-n', 'c', '-s', sockets, '--auth_token_file', join(dir, 'nope')])
  t.equal(await child.exited, 2)
  const lines = child.stderr().trim().split('\n')
  t.equal(lines.length, 1)
  t.match(lines[0], /^coordinator: auth_token_file .*nope: cannot read it/)
  t.notOk(existsSync(sockets))
})

t.test('CLI: a coordinator with a token answers 401 without it, and its unix sockets stay open', async t => {
  const dir = socketDir()
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  const port = await freePort()
  const file = tokenFile(dir, 'cli-token\n')
  const child = runCoordinator(t, ['-n', 'c', '-s', dir, '-p', String(port), '--bind_address', '127.0.0.1', '-l', 'info', '--auth_token_file', file])
  await child.waitForLog(/coordinator ready/)
  t.equal((await call(`http://127.0.0.1:${port}/metrics`)).status, 401)
  t.equal((await call(`http://127.0.0.1:${port}/metrics`, { headers: { authorization: 'Bearer cli-token' } })).status, 200)
  t.equal((await call(`http://127.0.0.1:${port}/healthz`)).status, 200)
  const ack = await sendFrame(join(dir, 'coordinator', 'c.sock'), '{"id":"u1","task":"Nothing"}')
  t.equal(ack, '{"error":"no providers available for task","id":"u1","result":null,"streamURL":null}', 'the unix socket needs no token')
  child.proc.kill('SIGTERM')
  t.equal(await child.exited, 0)
})
