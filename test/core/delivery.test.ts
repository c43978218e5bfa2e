import t from 'tap'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { rmSync } from 'node:fs'
import { Delivery } from '../../src/core/delivery.js'
import { parseUrlString, unixUrl } from '../../src/core/go-url.js'
import { silentLogger } from '../../src/core/log.js'
import { ackResponse } from '../../src/core/message.js'
import { HookClient } from '../../src/http/hook-client.js'
import { socketDir } from '../fixtures/coordinator.js'
import { freePort } from '../fixtures/cli.js'
import { startHttpHook, startUnixHook } from '../fixtures/hook-sink.js'
import { holdOpen } from '../fixtures/http-helpers.js'

// Backoff timers are unref'd (they must not keep a stopping coordinator alive): the test holds the process open itself.
function delivery (t: { teardown (fn: () => unknown): void }): Delivery {
  holdOpen(t)
  const hooks = new HookClient()
  t.teardown(() => hooks.close())
  return new Delivery({ hooks, log: silentLogger, timeoutMs: 500, retries: 3, backoffMs: 20, maxFrameBytes: 1024 * 1024 })
}

t.test('an http hook that never answers: undeliverable, and every extra attempt counted', async t => {
  const d = delivery(t)
  const port = await freePort()
  await d.deliver(parseUrlString(`http://127.0.0.1:${port}/h`), ackResponse('x', 'boom'), 'go', 'T')
  t.same(d.counts, { delivered: 0, undeliverable: 1, retries: 2 })
  t.equal(d.inFlight, 0)
})

t.test('a unix hook that is not there: undeliverable, retries counted', async t => {
  const dir = socketDir()
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  const d = delivery(t)
  await d.deliver(unixUrl(join(dir, 'nobody.sock')), ackResponse('x'), 'go', 'T')
  t.same(d.counts, { delivered: 0, undeliverable: 1, retries: 2 })
})

t.test('a unix hook that comes up during the backoff gets the response once', async t => {
  const dir = socketDir()
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  const d = delivery(t)
  const path = join(dir, 'late.sock')
  const delivering = d.deliver(unixUrl(path), ackResponse('late-1'), 'go', 'T')
  await new Promise(resolve => setTimeout(resolve, 5))
  const hook = await startUnixHook(path)
  t.teardown(() => hook.close())
  await delivering
  t.equal(hook.delivered.length, 1)
  t.equal(hook.delivered[0]?.json.id, 'late-1')
  t.equal(d.counts.delivered, 1)
  t.ok(d.counts.retries >= 1, 'it took a retry')
})

t.test('whenIdle waits for deliveries in flight', async t => {
  const d = delivery(t)
  const hook = await startHttpHook()
  t.teardown(() => hook.close())
  let idle = false
  const delivering = d.deliver(parseUrlString(hook.url()), ackResponse('w'), 'string', 'T')
  const waiting = d.whenIdle().then(() => { idle = true })
  t.equal(d.inFlight, 1)
  await delivering
  await waiting
  t.ok(idle)
  t.equal(hook.delivered[0]?.raw, '{"error":"","id":"w","result":null,"streamURL":null}')
})

t.test('a unix hook whose accept queue is full (EAGAIN) is retried until it takes the response', async t => {
  const dir = socketDir()
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  const path = join(dir, 'busy.sock')
  const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(new URL('../fixtures/busy-hook.ts', import.meta.url)), path, '600'], { stdio: ['ignore', 'pipe', 'inherit'] })
  t.teardown(() => { child.kill('SIGKILL') })
  let out = ''
  await new Promise<void>(resolve => {
    child.stdout.on('data', (c: Buffer) => { out += c.toString(); if (out.includes('listening')) resolve() })
  })
  await new Promise(resolve => setTimeout(resolve, 150))
  const hooks = new HookClient()
  t.teardown(() => hooks.close())
  holdOpen(t)
  const d = new Delivery({ hooks, log: silentLogger, timeoutMs: 2000, retries: 6, backoffMs: 100, maxFrameBytes: 1024 * 1024 })
  const N = 8
  await Promise.all(Array.from({ length: N }, (_, i) => d.deliver(unixUrl(path), ackResponse(`busy-${i}`), 'go', 'T')))
  t.equal(d.counts.delivered, N, 'every response delivered')
  t.equal(d.counts.undeliverable, 0)
  t.ok(d.counts.retries >= 1, `retried on EAGAIN (${d.counts.retries} retries)`)
})
