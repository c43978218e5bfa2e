import t from 'tap'
import { join } from 'node:path'
import { ProviderHealth } from '../../src/core/provider-health.js'
import { providerPriority } from '../../src/core/providers.js'
import { post, startCoordinator } from '../fixtures/coordinator.js'
import { startFakeProvider, type FakeProvider } from '../fixtures/fake-provider.js'

/** Sends `n` untracked requests for `task`; resolves with each answer's status. */
async function send (url: string, task: string, n: number, prefix: string): Promise<number[]> {
  const statuses: number[] = []
  // One after the other: the order each request tries is what is under test.
  for (let i = 0; i < n; i++) statuses.push((await post(url, JSON.stringify({ id: `${prefix}-${i}`, task }))).status)
  return statuses
}

/** Which provider took each request, in arrival order, from the ids they received. */
function takers (providers: Record<string, FakeProvider>): string[] {
  const all: Array<[number, string]> = []
  for (const [name, p] of Object.entries(providers)) {
    for (const raw of p.received) all.push([Number(/-(\d+)"/.exec(raw)?.[1]), name])
  }
  return all.sort((a, b) => a[0] - b[0]).map(([, name]) => name)
}

t.test('equal priority shares the load round robin; a lower priority waits its turn', async t => {
  const c = await startCoordinator(t)
  const a = await startFakeProvider({ path: join(c.dir, 'Share', '10-a.sock') })
  t.teardown(() => a.close())
  const b = await startFakeProvider({ path: join(c.dir, 'Share', '10-b.sock') })
  t.teardown(() => b.close())
  const z = await startFakeProvider({ path: join(c.dir, 'Share', '20-z.sock') })
  t.teardown(() => z.close())
  t.same(await send(c.url('/'), 'Share', 6, 'rr'), [200, 200, 200, 200, 200, 200])
  t.same(takers({ a, b, z }), ['a', 'b', 'a', 'b', 'a', 'b'])
  t.equal(z.received.length, 0, 'priority 20 is only tried after every priority 10')
})

t.test('names differing only in leading zeros share a priority and its rotation', async t => {
  const c = await startCoordinator(t, { provider_cooldown: 0 })
  // 1-first refuses each time without cooling down: every request falls to the 5-* run.
  const first = await startFakeProvider({ path: join(c.dir, 'Three', '1-first.sock'), ack: 'error-ack' })
  t.teardown(() => first.close())
  const x = await startFakeProvider({ path: join(c.dir, 'Three', '5-x.sock') })
  t.teardown(() => x.close())
  const y = await startFakeProvider({ path: join(c.dir, 'Three', '05-y.sock') })
  t.teardown(() => y.close())
  const w = await startFakeProvider({ path: join(c.dir, 'Three', '005-w.sock') })
  t.teardown(() => w.close())
  t.same(await send(c.url('/'), 'Three', 6, 'r3'), [200, 200, 200, 200, 200, 200])
  t.equal(first.received.length, 6, 'no cool-down: the better one is tried first every time')
  t.same([x.received.length, y.received.length, w.received.length], [2, 2, 2], '5, 05 and 005 are one priority')
})

t.test('a provider that just failed is skipped during its cool-down while others take the requests', async t => {
  const c = await startCoordinator(t, { provider_cooldown: 0.4 })
  const bad = await startFakeProvider({ path: join(c.dir, 'Cool', '10-a.sock'), ack: 'close' })
  t.teardown(() => bad.close())
  const good = await startFakeProvider({ path: join(c.dir, 'Cool', '10-b.sock') })
  t.teardown(() => good.close())

  t.same(await send(c.url('/'), 'Cool', 6, 'cd'), [200, 200, 200, 200, 200, 200])
  t.equal(bad.received.length, 1, 'tried once, then skipped')
  t.equal(good.received.length, 6)

  await new Promise(resolve => setTimeout(resolve, 500))
  await send(c.url('/'), 'Cool', 2, 'after')
  t.equal(bad.received.length, 2, 'tried again once the cool-down is over')
})

t.test('without a cool-down (0) a failing provider keeps its turn', async t => {
  const c = await startCoordinator(t, { provider_cooldown: 0 })
  const bad = await startFakeProvider({ path: join(c.dir, 'NoCool', '10-a.sock'), ack: 'error-ack' })
  t.teardown(() => bad.close())
  const good = await startFakeProvider({ path: join(c.dir, 'NoCool', '10-b.sock') })
  t.teardown(() => good.close())
  t.same(await send(c.url('/'), 'NoCool', 4, 'nc'), [200, 200, 200, 200])
  t.equal(bad.received.length, 2, 'tried first on every other request')
})

t.test('cooling providers are still tried when no one else is there', async t => {
  const c = await startCoordinator(t, { provider_cooldown: 30 })
  const pathA = join(c.dir, 'Last', '10-a.sock')
  let a = await startFakeProvider({ path: pathA, ack: 'error-ack' })
  const b = await startFakeProvider({ path: join(c.dir, 'Last', '10-b.sock'), ack: 'error-ack' })
  t.teardown(() => b.close())
  t.same(await send(c.url('/'), 'Last', 1, 'l1'), [502], 'both refuse: both cool down')
  await a.close()
  a = await startFakeProvider({ path: pathA })
  t.teardown(() => a.close())
  t.same(await send(c.url('/'), 'Last', 1, 'l2'), [200], 'all cooling: tried anyway, in order')
  t.equal(a.received.length, 1)
})

t.test('ProviderHealth: rotation per run, cool-down order, peek does not advance, lists that change', async t => {
  const h = new ProviderHealth({ cooldownMs: 60_000 })
  const list = ['/s/T/1-a.sock', '/s/T/1-b.sock', '/s/T/1-c.sock', '/s/T/2-d.sock', '/s/T/x.sock', '/s/T/y.sock']
  t.same(h.peek('T', list), list)
  t.same(h.order('T', list), list)
  t.same(h.order('T', list), ['/s/T/1-b.sock', '/s/T/1-c.sock', '/s/T/1-a.sock', '/s/T/2-d.sock', '/s/T/y.sock', '/s/T/x.sock'])
  t.same(h.peek('T', list), ['/s/T/1-c.sock', '/s/T/1-a.sock', '/s/T/1-b.sock', '/s/T/2-d.sock', '/s/T/x.sock', '/s/T/y.sock'])
  t.same(h.peek('T', list), h.peek('T', list), 'a peek twice is the same order')
  h.failed('T', '/s/T/1-c.sock', 'gone')
  t.same(h.order('T', list), ['/s/T/1-a.sock', '/s/T/1-b.sock', '/s/T/2-d.sock', '/s/T/x.sock', '/s/T/y.sock', '/s/T/1-c.sock'])
  t.equal(h.coolingCount(), 1)
  h.succeeded('T', '/s/T/1-c.sock')
  t.equal(h.coolingCount(), 0, 'a success ends the cool-down')
  const [status] = h.describe('T', ['/s/T/1-c.sock'])
  t.match(status, { socket: '/s/T/1-c.sock', answered: true, lastError: '', coolingDownMs: 0 })

  h.failed('T', '/s/T/2-d.sock', 'refused')
  const shorter = ['/s/T/1-a.sock', '/s/T/1-b.sock']
  h.order('T', shorter)
  t.equal(h.coolingCount(), 0, 'a socket gone from the list takes its outcome with it')
  t.same(h.order('T', []), [])
  t.same(h.order('Single', ['/s/S/1-a.sock']), ['/s/S/1-a.sock'])

  const bounded = new ProviderHealth({ cooldownMs: 1000, maxTasks: 2 })
  bounded.failed('A', '/s/A/1-a.sock', 'x')
  bounded.failed('B', '/s/B/1-a.sock', 'x')
  bounded.failed('C', '/s/C/1-a.sock', 'x')
  t.equal(bounded.coolingCount(), 2, 'at most maxTasks tasks are remembered')
  t.same(bounded.describe('Z', ['/s/Z/1-a.sock', '/s/Z/1-b.sock']).map(s => s.answered), [null, null])
  t.equal(bounded.coolingCount(), 2, 'describing an unknown task remembers nothing')
})

t.test('providerPriority: digits without leading zeros, or none', async t => {
  t.equal(providerPriority('10-a.sock'), '10')
  t.equal(providerPriority('0010-a.sock'), '10')
  t.equal(providerPriority('0-a.sock'), '0')
  t.equal(providerPriority('000-a.sock'), '0')
  t.equal(providerPriority('a.sock'), '')
  t.equal(providerPriority('10a.sock'), '')
  t.equal(providerPriority('-a.sock'), '')
})
