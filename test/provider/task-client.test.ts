import t from 'tap'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { post, startCoordinator } from '../fixtures/coordinator.js'
import { startHttpHook } from '../fixtures/hook-sink.js'
import { gate, startProvider } from '../fixtures/provider-kit.js'
import { sendFrame } from '../fixtures/wire.js'
import { Provider } from '../../src/provider/provider.js'
import { rawJson } from '../../src/provider/raw-json.js'
import type { TaskRequest } from '../../src/provider/task-request.js'
import type { TaskResponse } from '../../src/provider/task-response.js'

// A handler that answers only when aborted (by the provider's stop).
function never (req: TaskRequest): Promise<never> {
  return new Promise((resolve, reject) => { req.signal.addEventListener('abort', () => { reject(req.signal.reason) }) })
}

t.test('call(): a task of another provider, through the coordinator\'s unix socket and its HTTP port', async t => {
  const c = await startCoordinator(t)
  await startProvider(t, c, p => p.task('Add', req => {
    const { a, b } = req.args as { a: number, b: number }
    return a + b
  }), { serviceName: 'adder' })
  const caller = await startProvider(t, c, () => {}, { serviceName: 'caller' })
  const viaUnix = await caller.call('Add', { a: 2, b: 3 })
  t.equal(viaUnix.result, 5)
  t.equal(viaUnix.ok, true)
  t.equal(viaUnix.error, '')
  t.equal(viaUnix.streamURL, null)
  t.match(viaUnix.id, /^[0-9a-f-]{36}$/)
  const viaHttp = await caller.call('Add', { a: 40, b: 2 }, { coordinatorUrl: c.url('/') })
  t.equal(viaHttp.result, 42)
})

t.test('provider-to-provider: a handler calls two tasks and combines them, byte for byte', async t => {
  const c = await startCoordinator(t)
  const hook = await startHttpHook()
  t.teardown(() => hook.close())
  await startProvider(t, c, p => p
    .task('Big', () => rawJson('{"max":18446744073709551615}'))
    .task('Small', () => [1, 2]), { serviceName: 'parts' })
  await startProvider(t, c, p => p.task('Both', async () => {
    const { big, small } = await p.callMany({ big: { task: 'Big' }, small: { task: 'Small' } })
    return rawJson(`{"big":${big.rawResult.toString()},"small":${small.rawResult.toString()}}`)
  }), { serviceName: 'combiner' })
  await post(c.url('/'), JSON.stringify({ id: 'b1', task: 'Both', responseHook: hook.url() }))
  const [delivered] = await hook.waitFor(1)
  t.equal(delivered?.raw, '{"error":"","id":"b1","result":{"big":{"max":18446744073709551615},"small":[1,2]},"streamURL":null}')
})

t.test('callMany(): every name answered, failures as error responses with their code', async t => {
  const c = await startCoordinator(t)
  await startProvider(t, c, p => p
    .task('Good', () => 'fine')
    .task('Bad', () => { throw new Error('broken') })
    .task('Silent', never, { timeoutMs: 0 }), { serviceName: 'mixed', stopTimeoutMs: 50 })
  const caller = await startProvider(t, c, () => {}, { serviceName: 'caller' })
  const r = await caller.callMany({
    good: { task: 'Good' },
    bad: { task: 'Bad' },
    missing: { task: 'Missing' },
    silent: { task: 'Silent', timeoutMs: 150 }
  })
  t.same(Object.keys(r), ['good', 'bad', 'missing', 'silent'])
  t.equal(r.good.result, 'fine')
  t.equal(r.bad.error, 'mixed Bad: broken')
  t.equal(r.bad.code, undefined, 'the task answered: no local code')
  t.equal(r.missing.error, 'no providers available for task')
  t.equal(r.missing.code, 'ERR_CALL_REFUSED')
  t.equal(r.silent.error, 'response timeout')
  t.equal(r.silent.code, 'ERR_CALL_TIMEOUT')
})

t.test('call() rejects with a coded error for each way a call fails', async t => {
  const c = await startCoordinator(t)
  await startProvider(t, c, p => p
    .task('Fails', () => { throw new Error('no guest') })
    .task('Never', never, { timeoutMs: 0 }), { serviceName: 'target', stopTimeoutMs: 50 })
  const noUrl = await startProvider(t, c, () => {}, { serviceName: 'nourl', coordinatorUrl: '' })
  const caller = await startProvider(t, c, () => {}, { serviceName: 'caller' })

  const failed = await caller.call('Fails').catch((err: unknown) => err)
  t.match(failed, { code: 'ERR_CALL_FAILED', message: 'target Fails: no guest' })
  t.equal((failed as { response: TaskResponse }).response.error, 'target Fails: no guest')
  await t.rejects(caller.call('Unknown'), { code: 'ERR_CALL_REFUSED', message: 'no providers available for task' })
  await t.rejects(caller.call('a/b'), { code: 'ERR_CALL_REFUSED', message: /invalid task name/ })
  await t.rejects(caller.call('Never', null, { timeoutMs: 100 }), { code: 'ERR_CALL_TIMEOUT', message: 'response timeout' })
  const controller = new AbortController()
  const aborted = caller.call('Never', null, { signal: controller.signal })
  setTimeout(() => { controller.abort() }, 50)
  await t.rejects(aborted, { code: 'ERR_CALL_ABORTED' })
  await t.rejects(caller.call('Never', null, { signal: AbortSignal.abort() }), { code: 'ERR_CALL_ABORTED' })
  await t.rejects(caller.call(''), { code: 'ERR_CALL_INVALID' })
  await t.rejects(caller.call('Fails', null, { timeoutMs: 0 }), { code: 'ERR_CALL_INVALID', message: /^timeoutMs/ })
  await t.rejects(caller.call('Fails', null, { taskURL: 'ftp://x' }), { code: 'ERR_CALL_INVALID', message: /^taskURL/ })
  await t.rejects(caller.call('Fails', null, { streamURL: 'nonsense' }), { code: 'ERR_CALL_INVALID', message: /^streamURL/ })
  await t.rejects(caller.call('Fails', { n: 1n }), { code: 'ERR_JSON_VALUE' })
  await t.rejects(noUrl.call('Fails'), { code: 'ERR_CALL_INVALID', message: /no coordinator URL/ })
  await t.rejects(caller.call('Fails', null, { coordinatorUrl: `unix://${join(c.dir, 'nothing.sock')}` }), { code: 'ERR_CALL_SEND', message: /no socket at/ })
  t.equal(caller.running, 0)
})

t.test('calls before start and after stop; a call waiting at stop', async t => {
  const c = await startCoordinator(t)
  await startProvider(t, c, p => p.task('Never', never, { timeoutMs: 0 }), { serviceName: 'target', stopTimeoutMs: 50 })
  const fresh = new Provider({ serviceName: 'fresh', socketDir: c.dir, coordinatorUrl: `unix://${c.coordinator.addresses.requestSocket}` })
  await t.rejects(fresh.call('Never'), { code: 'ERR_PROVIDER_STATE' })
  await fresh.start()
  const waiting = fresh.call('Never')
  const stopped = gate()
  void fresh.stop().then(() => { stopped.open() })
  await t.rejects(waiting, { code: 'ERR_PROVIDER_STOPPED' })
  await stopped.promise
  await t.rejects(fresh.call('Never'), { code: 'ERR_PROVIDER_STOPPED' })
  t.notOk(existsSync(fresh.responseSocket))
})

t.test('the response socket acks every frame and drops what matches no call', async t => {
  const c = await startCoordinator(t)
  const caller = await startProvider(t, c, () => {}, { serviceName: 'caller' })
  const unknown = await sendFrame(caller.responseSocket, '{"id":"nobody","result":1,"error":""}')
  t.equal(unknown, '{"error":"","id":"","result":null,"streamURL":null}', 'the original\'s empty ack (wire sample 02e)')
  const malformed = JSON.parse(await sendFrame(caller.responseSocket, '{"id":'))
  t.equal(malformed.id, '')
  t.match(malformed.error, /unexpected end of JSON input/)
})
