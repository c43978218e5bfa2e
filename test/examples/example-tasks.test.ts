import t from 'tap'
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { post, startCoordinator } from '../fixtures/coordinator.js'
import { startHttpHook } from '../fixtures/hook-sink.js'
import { httpGet, startProvider } from '../fixtures/provider-kit.js'
import { byteRange, registerExampleTasks } from '../../src/examples/example-tasks.js'

async function readAll (stream: AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(chunk)
  return Buffer.concat(chunks)
}

t.test('byteRange: byte i is i mod 256, for any range', async t => {
  const all = await readAll(byteRange(0, 200_000))
  t.equal(all.length, 200_000)
  t.ok(all.every((b, i) => b === (i & 0xff)))
  const part = await readAll(byteRange(70_001, 140_003))
  t.ok(part.equals(all.subarray(70_001, 140_003)))
  t.equal((await readAll(byteRange(5, 5))).length, 0)
})

t.test('the example tasks through a coordinator', async t => {
  const c = await startCoordinator(t)
  const root = mkdtempSync(join(tmpdir(), 'co-root-'))
  t.teardown(() => { rmSync(root, { recursive: true, force: true }) })
  writeFileSync(join(root, 'inside.txt'), 'inside the root\n')
  mkdirSync(join(root, 'sub'))
  writeFileSync(join(c.dir, 'outside.txt'), 'secret')
  symlinkSync(join(c.dir, 'outside.txt'), join(root, 'link.txt'))
  const hook = await startHttpHook()
  t.teardown(() => hook.close())
  await startProvider(t, c, p => { registerExampleTasks(p, { fileRoot: root }) }, { serviceName: 'example' })
  const noRoot = await startProvider(t, c, p => { registerExampleTasks(p) }, { serviceName: 'noroot', defaultPriority: 99 })

  const ask = async (id: string, task: string, args?: unknown): Promise<Record<string, unknown>> => {
    const before = hook.delivered.length
    await post(c.url('/'), JSON.stringify({ id, task, responseHook: hook.url(), args }))
    const delivered = await hook.waitFor(before + 1)
    return delivered.find(d => d.json.id === id)?.json ?? {}
  }
  const cpus = await ask('c1', 'CPUInfo')
  t.ok(Array.isArray(cpus.result) && (cpus.result as unknown[]).length > 0)
  const memory = (await ask('m1', 'MemoryInfo')).result as { total: number, free: number, used: number }
  t.ok(memory.total > 0 && memory.free >= 0 && memory.used === memory.total - memory.free)
  const status = (await ask('s1', 'SystemStatus')).result as Record<string, unknown>
  t.same(Object.keys(status), ['host', 'platform', 'cpus', 'memory'])
  t.same(status.cpus, cpus.result)
  t.same((await ask('e1', 'Echo', { a: [1, { b: null }] })).result, { a: [1, { b: null }] })

  const file = await ask('f1', 'Stream', { file: 'inside.txt' })
  t.same(file.result, { file: 'inside.txt' })
  const got = await httpGet(`http://127.0.0.1:${c.coordinator.addresses.httpPort}${new URL(file.streamURL as string).pathname}${new URL(file.streamURL as string).search}`)
  t.equal(got.body.toString(), 'inside the root\n')
  for (const [name, message] of [
    ['../outside.txt', /outside the file root|no file/],
    ['link.txt', /outside the file root/],
    ['/etc/hostname', /outside the file root|no file/],
    ['sub', /not a file/],
    ['missing.txt', /no file/]
  ] as const) {
    t.match((await ask(`f-${name}`, 'Stream', { file: name })).error, message, name)
  }
  // straight to the provider without a file root (a unix taskURL skips the lookup)
  await post(c.url('/'), JSON.stringify({ id: 'nr1', task: 'Stream', taskURL: `unix://${noRoot.taskSocket('Stream')}`, responseHook: hook.url(), args: { file: 'inside.txt' } }))
  await hook.waitFor(hook.delivered.length + 1)
  t.match(hook.delivered.find(d => d.json.id === 'nr1')?.json.error, /noroot Stream: file streaming is off/)
  t.match((await ask('r1', 'Stream', { from: 10, to: 5 })).error, /0 <= from <= to/)
  t.match((await ask('r2', 'Stream', { to: 2 ** 31 })).error, /at most/)
  t.match((await ask('r3', 'Stream', {})).error, /want args/)
})
