import t from 'tap'
import { existsSync, lstatSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { goUrl, post, startCoordinator } from '../fixtures/coordinator.js'
import { startHttpHook, startUnixHook } from '../fixtures/hook-sink.js'
import { gate, startProvider, waitUntil } from '../fixtures/provider-kit.js'
import { sendFrame } from '../fixtures/wire.js'
import { Provider } from '../../src/provider/provider.js'
import { rawJson } from '../../src/provider/raw-json.js'
import type { TaskRequest } from '../../src/provider/task-request.js'

t.test('start creates one socket per task with its priority, and the response socket; stop removes them', async t => {
  const c = await startCoordinator(t)
  const provider = new Provider({
    serviceName: 'prov',
    socketDir: c.dir,
    defaultPriority: 7,
    tasks: { Configured: { priority: 3 } }
  })
  provider
    .task('Plain', () => 1)
    .task('InCode', () => 2, { priority: 20 })
    .task('Configured', () => 3, { priority: 99 })
  await provider.start()
  const expected = [join(c.dir, 'Plain', '7-prov.sock'), join(c.dir, 'InCode', '20-prov.sock'), join(c.dir, 'Configured', '3-prov.sock')]
  t.same(provider.tasks, ['Plain', 'InCode', 'Configured'])
  t.same(provider.tasks.map(task => provider.taskSocket(task)), expected)
  for (const path of [...expected, join(c.dir, 'response', 'prov.sock')]) {
    t.ok(lstatSync(path).isSocket(), `${path} is a socket`)
  }
  t.equal(provider.responseSocket, join(c.dir, 'response', 'prov.sock'))
  await provider.stop()
  for (const path of [...expected, provider.responseSocket]) t.notOk(existsSync(path), `${path} removed`)
  await provider.stop() // idempotent
})

t.test('a request through the coordinator: acked, run, and its response delivered to the http hook', async t => {
  const c = await startCoordinator(t)
  const hook = await startHttpHook()
  t.teardown(() => hook.close())
  const seen: TaskRequest[] = []
  await startProvider(t, c, p => p.task('Hello', req => {
    seen.push(req)
    return { hello: (req.args as { name: string }).name }
  }))
  const ack = await post(c.url('/'), JSON.stringify({ id: 'h1', task: 'Hello', responseHook: goUrl('http', `127.0.0.1:${hook.port}`, '/hook'), args: { name: 'ada' } }))
  t.equal(ack.status, 200, ack.body)
  const [delivered] = await hook.waitFor(1)
  t.equal(delivered?.raw, '{"error":"","id":"h1","result":{"hello":"ada"},"streamURL":null}')
  t.equal(seen[0]?.id, 'h1')
  t.equal(seen[0]?.task, 'Hello')
  t.equal(seen[0]?.rawArgs.toString(), '{"name":"ada"}')
  t.equal(seen[0]?.hasStream, false)
  t.equal(seen[0]?.signal.aborted, false)
})

t.test('results pass on byte for byte: RawJson results, 64-bit integers, the requester\'s URL form', async t => {
  const c = await startCoordinator(t)
  const hook = await startHttpHook()
  t.teardown(() => hook.close())
  await startProvider(t, c, p => p
    .task('Raw', req => rawJson(req.rawArgs))
    .task('Nothing', () => undefined))
  await post(c.url('/'), `{"id":"r1","task":"Raw","responseHook":"${hook.url()}","args":{"n":18446744073709551615, "s":"<&>"}}`)
  await post(c.url('/'), JSON.stringify({ id: 'r2', task: 'Nothing', responseHook: hook.url() }))
  const delivered = await hook.waitFor(2)
  const byId = new Map(delivered.map(d => [String(d.json.id), d.raw]))
  t.equal(byId.get('r1'), '{"error":"","id":"r1","result":{"n":18446744073709551615, "s":"<&>"},"streamURL":null}')
  t.equal(byId.get('r2'), '{"error":"","id":"r2","result":null,"streamURL":null}')
})

t.test('handler errors become the response error "<service> <task>: <message>"', async t => {
  const c = await startCoordinator(t)
  const hook = await startHttpHook()
  t.teardown(() => hook.close())
  await startProvider(t, c, p => p
    .task('Throws', () => { throw new Error('missing guest_id') })
    .task('Rejects', async () => { throw new Error('async failure') })
    .task('ThrowsString', () => { throw 'plain string' }) // eslint-disable-line no-throw-literal
    .task('BadResult', () => ({ n: 1n })))
  for (const task of ['Throws', 'Rejects', 'ThrowsString', 'BadResult']) {
    await post(c.url('/'), JSON.stringify({ id: `e-${task}`, task, responseHook: hook.url() }))
  }
  const delivered = await hook.waitFor(4)
  const errors = new Map(delivered.map(d => [String(d.json.id), d.json]))
  t.equal(errors.get('e-Throws')?.error, 'prov Throws: missing guest_id')
  t.equal(errors.get('e-Rejects')?.error, 'prov Rejects: async failure')
  t.equal(errors.get('e-ThrowsString')?.error, 'prov ThrowsString: plain string')
  t.match(errors.get('e-BadResult')?.error, /^prov BadResult: result cannot be written as JSON: /)
  for (const d of delivered) t.equal(d.json.result, null)
})

t.test('a unix hook is answered directly; the ack is the original provider\'s', async t => {
  const c = await startCoordinator(t)
  const provider = await startProvider(t, c, p => p.task('Direct', () => [1, 2]))
  const hookPath = join(c.dir, 'hook.sock')
  const hook = await startUnixHook(hookPath)
  t.teardown(() => hook.close())
  const ack = await sendFrame(provider.taskSocket('Direct'), JSON.stringify({
    id: 'd1', task: 'Direct', responseHook: goUrl('unix', '', hookPath), args: null
  }))
  t.equal(ack, '{"error":"","id":"d1","result":null,"streamURL":null}', 'same bytes as wire sample 09a')
  const [delivered] = await hook.waitFor(1)
  t.equal(delivered?.raw, '{"error":"","id":"d1","result":[1,2],"streamURL":null}')
})

t.test('a request without a hook runs, and its response goes nowhere', async t => {
  const c = await startCoordinator(t)
  const ran = gate<string>()
  const provider = await startProvider(t, c, p => p.task('Fire', req => { ran.open(req.id) }))
  const ack = await sendFrame(provider.taskSocket('Fire'), '{"id":"f1","task":"Fire"}')
  t.equal(JSON.parse(ack).error, '')
  t.equal(await ran.promise, 'f1')
})

t.test('bad frames are refused in the ack and run nothing', async t => {
  const c = await startCoordinator(t)
  let runs = 0
  const provider = await startProvider(t, c, p => p.task('Strict', () => { runs++ }))
  const path = provider.taskSocket('Strict')
  const garbage = JSON.parse(await sendFrame(path, 'not json'))
  t.match(garbage.error, /^failed to unmarshal request: invalid character/)
  t.equal(JSON.parse(await sendFrame(path, '{"task":"Strict"}')).error, 'missing id')
  const wrong = JSON.parse(await sendFrame(path, '{"id":"w1","task":"Other"}'))
  t.same(wrong, { error: 'this socket serves task Strict, not Other', id: 'w1', result: null, streamURL: null })
  await new Promise(resolve => setTimeout(resolve, 50))
  t.equal(runs, 0)
})

t.test('a handler past its task timeout: error response, and its signal aborts', async t => {
  const c = await startCoordinator(t)
  const hook = await startHttpHook()
  t.teardown(() => hook.close())
  const aborted = gate<unknown>()
  await startProvider(t, c, p => p.task('Slow', req => new Promise(() => {
    req.signal.addEventListener('abort', () => { aborted.open(req.signal.reason) })
  }), { timeoutMs: 100 }))
  await post(c.url('/'), JSON.stringify({ id: 's1', task: 'Slow', responseHook: hook.url() }))
  const [delivered] = await hook.waitFor(1)
  t.equal(delivered?.json.error, 'prov Slow: task timed out after 100 ms')
  t.match(await aborted.promise, { code: 'ERR_TASK_TIMEOUT' })
})

t.test('beyond maxRunning a provider refuses, and the coordinator tries the next one', async t => {
  const c = await startCoordinator(t)
  const hook = await startHttpHook()
  t.teardown(() => hook.close())
  const release = gate()
  await startProvider(t, c, p => p.task('Work', async () => { await release.promise; return 'first' }), { serviceName: 'busy', defaultPriority: 10, maxRunning: 1 })
  await startProvider(t, c, p => p.task('Work', () => 'second'), { serviceName: 'spare', defaultPriority: 20 })
  await post(c.url('/'), JSON.stringify({ id: 'm1', task: 'Work', responseHook: hook.url() }))
  await post(c.url('/'), JSON.stringify({ id: 'm2', task: 'Work', responseHook: hook.url() }))
  const [first] = await hook.waitFor(1)
  t.same(first?.json, { error: '', id: 'm2', result: 'second', streamURL: null }, 'the busy provider passed m2 on')
  release.open()
  const all = await hook.waitFor(2)
  t.same(all[1]?.json, { error: '', id: 'm1', result: 'first', streamURL: null })
})

t.test('stop: sockets go at once, the running handler finishes and its response is delivered', async t => {
  const c = await startCoordinator(t)
  const hook = await startHttpHook()
  t.teardown(() => hook.close())
  const started = gate()
  const release = gate()
  const provider = await startProvider(t, c, p => p.task('Long', async () => {
    started.open()
    await release.promise
    return 'finished'
  }))
  const socket = provider.taskSocket('Long')
  await post(c.url('/'), JSON.stringify({ id: 'l1', task: 'Long', responseHook: hook.url() }))
  await started.promise
  let stopped = false
  const stopping = provider.stop().then(() => { stopped = true })
  await waitUntil(() => !existsSync(socket), 2_000, 'task socket removal')
  t.equal(provider.running, 1, 'the handler still runs')
  t.notOk(stopped, 'stop waits for it')
  t.ok(existsSync(provider.responseSocket), 'the response socket stays for its calls')
  const refused = await post(c.url('/'), JSON.stringify({ id: 'l2', task: 'Long', responseHook: hook.url() }))
  // 404 once the coordinator's listing is fresh, 502 from a cached one naming the gone socket
  t.ok([404, 502].includes(refused.status), `refused (${refused.status}) once the socket is gone`)
  release.open()
  await stopping
  t.same((await hook.waitFor(1))[0]?.json, { error: '', id: 'l1', result: 'finished', streamURL: null })
  t.notOk(existsSync(provider.responseSocket))
})

t.test('stop aborts handlers still running after stopTimeoutMs', async t => {
  const c = await startCoordinator(t)
  const hook = await startHttpHook()
  t.teardown(() => hook.close())
  const started = gate()
  const provider = await startProvider(t, c, p => p.task('Stuck', req => new Promise((resolve, reject) => {
    started.open()
    req.signal.addEventListener('abort', () => { reject(req.signal.reason) })
  }), { timeoutMs: 0 }), { stopTimeoutMs: 150 })
  await post(c.url('/'), JSON.stringify({ id: 'st1', task: 'Stuck', responseHook: hook.url() }))
  await started.promise
  const begun = Date.now()
  await provider.stop()
  t.ok(Date.now() - begun >= 140, 'waited for the stop timeout')
  t.same((await hook.waitFor(1))[0]?.json.error, 'prov Stuck: provider stopped')
})

t.test('a second provider of the same name does not steal the first one\'s sockets', async t => {
  const c = await startCoordinator(t)
  const hook = await startHttpHook()
  t.teardown(() => hook.close())
  await startProvider(t, c, p => p.task('Only', () => 'first'))
  const second = new Provider({ serviceName: 'prov', socketDir: c.dir })
  second.task('Only', () => 'second')
  await t.rejects(second.start(), { code: 'ERR_SOCKET_IN_USE' })
  await t.rejects(second.start(), { code: 'ERR_PROVIDER_STATE' })
  await second.stop()
  await post(c.url('/'), JSON.stringify({ id: 'o1', task: 'Only', responseHook: hook.url() }))
  t.equal((await hook.waitFor(1))[0]?.json.result, 'first')
})

t.test('a failed start undoes what it created', async t => {
  const c = await startCoordinator(t)
  mkdirSync(join(c.dir, 'Taken'))
  writeFileSync(join(c.dir, 'Taken', '50-fresh.sock'), 'a regular file')
  const provider = new Provider({ serviceName: 'fresh', socketDir: c.dir })
  provider.task('Free', () => 1).task('Taken', () => 2)
  await t.rejects(provider.start(), { code: 'ERR_NOT_A_SOCKET' })
  t.notOk(existsSync(join(c.dir, 'Free', '50-fresh.sock')), 'the task socket made before is removed')
  t.notOk(existsSync(join(c.dir, 'response', 'fresh.sock')), 'the response socket is removed')
  await provider.stop()
})

t.test('options and registration are checked', async t => {
  const dir = '/tmp/co-never-created'
  const bad: Array<[Record<string, unknown>, RegExp]> = [
    [{ serviceName: '' }, /^serviceName/],
    [{ serviceName: 'a/b' }, /^serviceName/],
    [{ serviceName: '..' }, /^serviceName/],
    [{ serviceName: 'p', socketDir: 'relative' }, /^socketDir/],
    [{ serviceName: 'p', defaultPriority: -1 }, /^defaultPriority/],
    [{ serviceName: 'p', defaultPriority: 1.5 }, /^defaultPriority/],
    [{ serviceName: 'p', defaultTimeoutMs: -1 }, /^defaultTimeoutMs/],
    [{ serviceName: 'p', requestTimeoutMs: 0 }, /^requestTimeoutMs/],
    [{ serviceName: 'p', maxRunning: 0 }, /^maxRunning/],
    [{ serviceName: 'p', socketMode: 0o1000 }, /^socketMode/],
    [{ serviceName: 'p', coordinatorUrl: 'ftp://x' }, /^coordinatorUrl/],
    [{ serviceName: 'p', tasks: { T: { priority: -2 } } }, /^tasks\.T\.priority/],
    [{ serviceName: 'x'.repeat(120) }, /socket path .* above the limit/]
  ]
  for (const [opts, message] of bad) {
    t.throws(() => new Provider({ socketDir: dir, ...opts } as never), { code: 'ERR_PROVIDER_CONFIG', message }, JSON.stringify(opts))
  }
  const p = new Provider({ serviceName: 'p', socketDir: dir })
  t.throws(() => p.task('a/b', () => 1), { code: 'ERR_PROVIDER_CONFIG' })
  t.throws(() => p.task('..', () => 1), { code: 'ERR_PROVIDER_CONFIG' })
  t.throws(() => p.task('T', 'nope' as never), { code: 'ERR_PROVIDER_CONFIG' })
  t.throws(() => p.task('T', () => 1, { timeoutMs: -5 }), { code: 'ERR_PROVIDER_CONFIG' })
  t.throws(() => p.task('T'.repeat(100), () => 1), { code: 'ERR_PROVIDER_CONFIG', message: /above the limit/ })
  p.task('T', () => 1)
  t.throws(() => p.task('T', () => 1), { code: 'ERR_PROVIDER_CONFIG', message: /already registered/ })
  t.throws(() => p.taskSocket('Unknown'), { code: 'ERR_PROVIDER_CONFIG' })
  await p.stop() // never started: nothing to do
  await t.rejects(p.start(), { code: 'ERR_PROVIDER_STATE' })
  t.throws(() => p.task('Late', () => 1), { code: 'ERR_PROVIDER_STATE' })
  t.notOk(existsSync(dir), 'nothing was created')
})
