import t from 'tap'
import { ResponseGate } from '../../src/core/response-gate.js'
import { holdOpen } from '../fixtures/http-helpers.js'

function settled (p: Promise<void>): Promise<string> {
  return Promise.race([
    p.then(() => 'admitted', (err: { code?: string }) => `refused ${err.code ?? ''}`),
    new Promise<string>(resolve => setTimeout(() => resolve('waiting'), 20))
  ])
}

t.test('takes free slots at once, then queues', async t => {
  const gate = new ResponseGate({ limit: 2, waitMs: 1000 })
  t.equal(gate.acquire(), undefined, 'first slot free')
  t.equal(gate.acquire(), undefined, 'second slot free')
  t.equal(gate.owed, 2)
  const third = gate.acquire()
  t.type(third, Promise, 'past the limit: a wait')
  t.equal(gate.waiting, 1)
  t.equal(await settled(third as Promise<void>), 'waiting')
  gate.release()
  t.equal(await settled(third as Promise<void>), 'admitted', 'a released slot goes to the waiter')
  t.equal(gate.owed, 2, 'the slot was handed over, not freed')
  t.equal(gate.waiting, 0)
  gate.release()
  gate.release()
  t.equal(gate.owed, 0)
})

t.test('waiters are admitted first come first served, and newcomers queue behind them', async t => {
  const gate = new ResponseGate({ limit: 1, waitMs: 1000 })
  gate.acquire()
  const order: number[] = []
  const waits = [1, 2, 3].map(n => (gate.acquire() as Promise<void>).then(() => { order.push(n) }))
  gate.release()
  // a slot is free only in the sense of being handed over: a newcomer must not jump the queue
  const late = gate.acquire()
  t.type(late, Promise, 'a newcomer waits while others do')
  gate.release()
  gate.release()
  await Promise.all(waits)
  t.same(order, [1, 2, 3])
  gate.release()
  await late
  t.equal(gate.owed, 1)
})

t.test('a wait past waitMs is refused with ERR_OVERLOADED and leaves the queue', async t => {
  holdOpen(t) // the wait timers are unref'd: they alone would not keep the process up
  const gate = new ResponseGate({ limit: 1, waitMs: 30 })
  gate.acquire()
  const first = gate.acquire() as Promise<void>
  const second = gate.acquire() as Promise<void>
  await Promise.all([
    t.rejects(first, { code: 'ERR_OVERLOADED', message: 'too many responses pending (limit 1)' }),
    t.rejects(second, { code: 'ERR_OVERLOADED' })
  ])
  t.equal(gate.waiting, 0)
  gate.release()
  t.equal(gate.owed, 0, 'the expired waiters took no slot')
})

t.test('close() refuses every waiter, and later ones at once, with the given error', async t => {
  const gate = new ResponseGate({ limit: 1, waitMs: 1000 })
  gate.acquire()
  const waits = [gate.acquire(), gate.acquire()] as Array<Promise<void>>
  const err = Object.assign(new Error('stopping'), { code: 'ERR_SHUTTING_DOWN' })
  gate.close(err)
  await Promise.all(waits.map(w => t.rejects(w, err)))
  t.equal(gate.waiting, 0)
  t.equal(gate.owed, 1, 'the slot taken stays taken until released')
  await t.rejects(gate.acquire() as Promise<void>, err, 'a newcomer that would wait is refused at once')
  t.equal(gate.waiting, 0)
  gate.release()
  t.equal(gate.acquire(), undefined, 'a free slot is still taken after close(): the requests in flight finish')
})

t.test('a long queue keeps its order across compaction', async t => {
  const gate = new ResponseGate({ limit: 1, waitMs: 5000 })
  gate.acquire()
  const n = 3000
  const order: number[] = []
  const waits: Array<Promise<void>> = []
  for (let i = 0; i < n; i++) waits.push((gate.acquire() as Promise<void>).then(() => { order.push(i) }))
  for (let i = 0; i < n; i++) gate.release()
  await Promise.all(waits)
  t.equal(order.length, n)
  t.ok(order.every((v, i) => v === i), 'admitted in arrival order')
  t.equal(gate.waiting, 0)
  gate.release()
  t.equal(gate.owed, 0)
})
