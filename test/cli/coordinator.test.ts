import t from 'tap'
import { existsSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { freePort, runCoordinator } from '../fixtures/cli.js'
import { post, socketDir } from '../fixtures/coordinator.js'
import { startFakeProvider } from '../fixtures/fake-provider.js'
import { startHttpHook } from '../fixtures/hook-sink.js'
import { sendFrame } from '../fixtures/wire.js'

function tempDir (t: { teardown (fn: () => unknown): void }): string {
  const dir = socketDir()
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  return dir
}

t.test('invalid configuration exits 2 naming the field, before creating anything', async t => {
  const dir = tempDir(t)
  const sockets = join(dir, 'never')
  const bad = join(dir, 'bad.json')
  writeFileSync(bad, '{"service_name": ')
  const cases: Array<[string[], RegExp]> = [
    [['-s', sockets], /service_name/],
    [['-n', 'c', '-s', sockets, '-p', '0'], /external_port/],
    [['-n', 'c', '-s', sockets, '-p', '70000'], /external_port/],
    [['-n', 'c', '-s', sockets, '-l', 'loud'], /log_level/],
    [['-n', 'c', '-s', ''], /socket_dir/],
    [['-c', bad], /bad\.json/],
    [['-c', join(dir, 'missing.json')], /missing\.json/],
    [['-n', 'c', '--no_such_flag', 'x'], /no_such_flag/]
  ]
  for (const [args, field] of cases) {
    const child = runCoordinator(t, args)
    t.equal(await child.exited, 2, `exit status for ${args.join(' ')}`)
    const lines = child.stderr().trim().split('\n')
    t.equal(lines.length, 1, 'one line')
    t.match(lines[0], field)
  }
  t.notOk(existsSync(sockets), 'no socket dir created')
})

t.test('--help and --version print and exit 0', async t => {
  const help = runCoordinator(t, ['--help'])
  t.equal(await help.exited, 0)
  t.match(help.stdout(), /--service_name/)
  t.match(help.stdout(), /-n/)
  const version = runCoordinator(t, ['--version'])
  t.equal(await version.exited, 0)
  t.match(version.stdout(), /\d+\.\d+\.\d+/)
})

t.test('SIGTERM with requests in flight: every response delivered, sockets removed, exit 0', async t => {
  const dir = tempDir(t)
  const port = await freePort()
  const hook = await startHttpHook()
  t.teardown(() => hook.close())
  const provider = await startFakeProvider({ path: join(dir, 'Work', '1-p.sock'), reply: r => ({ result: JSON.stringify(r.id), delayMs: 400 }) })
  t.teardown(() => provider.close())
  const child = runCoordinator(t, ['-n', 'cli', '-s', dir, '-p', String(port), '-l', 'info', '-t', '5', '--bind_address', '127.0.0.1'])
  await child.waitForLog(/coordinator ready/)
  const N = 20
  const acks = await Promise.all(Array.from({ length: N }, (_, i) =>
    post(`http://127.0.0.1:${port}/`, JSON.stringify({ id: `sig${i}`, task: 'Work', responseHook: hook.url() }))))
  t.ok(acks.every(a => a.status === 200), 'all accepted')
  child.proc.kill('SIGTERM')
  // While draining (the provider answers after 400 ms), new requests are refused with 503.
  await child.waitForLog(/draining/)
  const refused = await post(`http://127.0.0.1:${port}/`, JSON.stringify({ id: 'late', task: 'Work', responseHook: hook.url() }))
  t.equal(refused.status, 503)
  t.equal(JSON.parse(refused.body).error, 'coordinator is shutting down')
  t.equal(await child.exited, 0)
  t.equal(hook.delivered.length, N, 'every response delivered before exit')
  t.notOk(existsSync(join(dir, 'coordinator', 'cli.sock')), 'request socket removed')
  t.notOk(existsSync(join(dir, 'response', 'cli.sock')), 'response socket removed')
})

t.test('a live coordinator is not displaced by a second one of the same name', async t => {
  const dir = tempDir(t)
  const first = runCoordinator(t, ['-n', 'same', '-s', dir, '-p', String(await freePort()), '-l', 'info', '--bind_address', '127.0.0.1'])
  await first.waitForLog(/coordinator ready/)
  const second = runCoordinator(t, ['-n', 'same', '-s', dir, '-p', String(await freePort()), '-l', 'info', '--bind_address', '127.0.0.1'])
  t.equal(await second.exited, 1)
  t.match(second.stderr(), /ERR_SOCKET_IN_USE|in use/)
  const ack = await sendFrame(join(dir, 'coordinator', 'same.sock'), '{"id":"x","task":"None"}')
  t.equal(JSON.parse(ack).error, 'no providers available for task', 'the first still answers')
  first.proc.kill('SIGTERM')
  t.equal(await first.exited, 0)
})

t.test('a stale socket left by a killed coordinator is replaced', async t => {
  const dir = tempDir(t)
  const first = runCoordinator(t, ['-n', 'stale', '-s', dir, '-p', String(await freePort()), '-l', 'info', '--bind_address', '127.0.0.1'])
  await first.waitForLog(/coordinator ready/)
  first.proc.kill('SIGKILL')
  await first.exited
  t.ok(existsSync(join(dir, 'coordinator', 'stale.sock')), 'the killed one left its socket')
  const second = runCoordinator(t, ['-n', 'stale', '-s', dir, '-p', String(await freePort()), '-l', 'info', '--bind_address', '127.0.0.1'])
  await second.waitForLog(/coordinator ready/)
  const ack = await sendFrame(join(dir, 'coordinator', 'stale.sock'), '{"id":"x","task":"None"}')
  t.equal(JSON.parse(ack).id, 'x')
  second.proc.kill('SIGINT')
  t.equal(await second.exited, 0)
})
