/**
 * max_pending_responses: past the limit of responses owed on the response socket, tracked
 * requests wait before dispatch (their callers get their acks later), and are refused with
 * 503 only when no slot frees within dispatch_timeout.
 */
import t from 'tap'
import { join } from 'node:path'
import { post, startCoordinator, type HttpAnswer, type TestCoordinator } from '../fixtures/coordinator.js'
import { startFakeProvider, type FakeProvider } from '../fixtures/fake-provider.js'
import { startHttpHook, type HttpHookSink } from '../fixtures/hook-sink.js'
import { delay, type Teardown } from '../fixtures/http-helpers.js'
import { parseExposition } from '../fixtures/prometheus.js'
import { sendFrame } from '../fixtures/wire.js'

interface Rig { c: TestCoordinator, provider: FakeProvider, hook: HttpHookSink }

async function rig (t: Teardown, settings: Record<string, unknown>): Promise<Rig> {
  const c = await startCoordinator(t, { max_pending_responses: 2, ...settings })
  // acks every request and never answers: the test answers for it on the response socket
  const provider = await startFakeProvider({ path: join(c.dir, 'Work', '10-p.sock'), reply: () => null })
  t.teardown(() => provider.close())
  const hook = await startHttpHook()
  t.teardown(() => hook.close())
  return { c, provider, hook }
}

function request ({ c, hook }: Rig, id: string, withHook = true): Promise<HttpAnswer> {
  const body = { id, task: 'Work', ...(withHook ? { responseHook: hook.url(`/${id}`) } : {}) }
  return post(c.url('/'), JSON.stringify(body))
}

function answer ({ c }: Rig, id: string): Promise<string> {
  return sendFrame(c.coordinator.addresses.responseSocket, JSON.stringify({ id, result: `r-${id}`, streamURL: null, error: '' }))
}

async function held (c: TestCoordinator): Promise<number | undefined> {
  const text = await fetch(c.url('/metrics')).then(async r => await r.text())
  return parseExposition(text).value('coordinator_requests_held')
}

/** 'pending' if `p` has not settled within `ms`. */
function within<T> (p: Promise<T>, ms: number): Promise<T | 'pending'> {
  return Promise.race([p, delay(ms).then(() => 'pending' as const)])
}

t.test('a request past the limit waits for a response slot, then is dispatched', async t => {
  const r = await rig(t, { dispatch_timeout: 5 })
  t.equal((await request(r, 'a')).status, 200)
  t.equal((await request(r, 'b')).status, 200)
  const third = request(r, 'c')
  t.equal(await within(third, 300), 'pending', 'no ack while two responses are owed')
  t.equal(r.provider.received.length, 2, 'and not dispatched')
  t.equal(await held(r.c), 1, 'counted as held')

  t.equal((await request(r, 'no-hook', false)).status, 200, 'a request without hook owes no response: never held')

  t.match(await answer(r, 'a'), '"error":""')
  t.equal((await third).status, 200, 'acked once a response came in')
  t.match(r.provider.received.at(-1), '"id":"c"', 'dispatched after the wait')
  const [delivered] = await r.hook.waitFor(1)
  t.match(delivered?.json, { id: 'a', result: 'r-a', error: '' })
  t.equal(await held(r.c), 0)
})

t.test('a request that finds no slot within dispatch_timeout gets 503', async t => {
  const r = await rig(t, { dispatch_timeout: 0.3 })
  await request(r, 'a')
  await request(r, 'b')
  const started = Date.now()
  const refused = await request(r, 'c')
  t.equal(refused.status, 503)
  t.match(JSON.parse(refused.body), { id: 'c', error: 'too many responses pending (limit 2)' })
  t.ok(Date.now() - started >= 250, 'after the wait')
  t.equal(r.provider.received.length, 2, 'never dispatched')
  // the owed responses still come through, and free their slots
  await answer(r, 'a')
  await r.hook.waitFor(1)
  t.equal((await request(r, 'd')).status, 200, 'a slot is free again')
})

t.test('a response timeout frees the slot too', async t => {
  const r = await rig(t, { dispatch_timeout: 5, request_timeout: 0.4 })
  await request(r, 'a')
  await request(r, 'b')
  t.equal((await request(r, 'c')).status, 200, 'admitted once a tracked request timed out')
  const timedOut = await r.hook.waitFor(2)
  t.same(timedOut.map(d => d.json.error), ['response timeout', 'response timeout'])
})

t.test('stopping refuses the held requests at once', async t => {
  const r = await rig(t, { dispatch_timeout: 5, request_timeout: 1 })
  await request(r, 'a')
  await request(r, 'b')
  const third = request(r, 'c')
  t.equal(await within(third, 200), 'pending')
  const stopped = r.c.coordinator.stop()
  const refused = await third
  t.equal(refused.status, 503)
  t.match(JSON.parse(refused.body), { id: 'c', error: 'coordinator is shutting down' })
  await stopped
  t.equal(r.provider.received.length, 2)
})
