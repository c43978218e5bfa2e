import t from 'tap'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import type { Teardown } from '../fixtures/http-helpers.js'
import { checkTaskName, compareProviderNames, MAX_CACHED_TASKS, ProviderDirectory } from '../../src/core/providers.js'

type T = Teardown

function tempDir (t: T): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'co-'))
  t.teardown(() => { fs.rmSync(dir, { recursive: true, force: true }) })
  return dir
}

/** Creates a listening unix socket at file; closed at teardown. */
async function makeSocket (t: T, file: string): Promise<net.Server> {
  const server = net.createServer(s => { s.destroy() })
  t.teardown(() => new Promise<void>(resolve => { server.close(() => { resolve() }) }))
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(file, resolve)
  })
  return server
}

function closeServer (server: net.Server): Promise<void> {
  return new Promise(resolve => { server.close(() => { resolve() }) })
}

function newDir (t: T, socketDir: string, maxAgeMs = 60_000): ProviderDirectory {
  const dir = new ProviderDirectory({ socketDir, maxAgeMs })
  t.teardown(() => { dir.close() })
  return dir
}

/** Polls lookup until pred holds, for at most 2 s; returns the last list. */
async function lookupUntil (dir: ProviderDirectory, task: string, pred: (l: string[]) => boolean): Promise<string[]> {
  const end = performance.now() + 2000
  for (;;) {
    const list = await dir.lookup(task)
    if (pred(list) || performance.now() > end) return list
    await new Promise(resolve => setTimeout(resolve, 10))
  }
}

t.test('orders providers by numeric priority, unnumbered last', async t => {
  const root = tempDir(t)
  const task = path.join(root, 'CPUInfo')
  fs.mkdirSync(task)
  for (const name of ['100-a.sock', '50-b.sock', '7-c.sock', 'x.sock']) await makeSocket(t, path.join(task, name))
  const dir = newDir(t, root)
  const list = await dir.lookup('CPUInfo')
  t.same(list.map(p => path.basename(p)), ['7-c.sock', '50-b.sock', '100-a.sock', 'x.sock'])
  t.equal(list[0], path.join(task, '7-c.sock'), 'full socket paths under socketDir/task')
})

t.test('compareProviderNames: numbers of any size, ties by name', async t => {
  const names = ['x.sock', '100-a.sock', '050-b.sock', '50-a.sock', '99999999999999999999-z.sock',
    '100000000000000000000-y.sock', '10.sock', '-1-n.sock', '0-first.sock', 'a-1.sock']
  t.same([...names].sort(compareProviderNames), [
    '0-first.sock', '050-b.sock', '50-a.sock', '100-a.sock', '99999999999999999999-z.sock',
    '100000000000000000000-y.sock', '-1-n.sock', '10.sock', 'a-1.sock', 'x.sock'
  ])
  t.equal(compareProviderNames('5-a', '5-a'), 0)
  t.equal(compareProviderNames('50-b', '100-a'), -1)
  t.equal(compareProviderNames('100-a', '50-b'), 1)
})

t.test('skips regular files, directories and symlinks', async t => {
  const root = tempDir(t)
  const task = path.join(root, 'T')
  fs.mkdirSync(task)
  await makeSocket(t, path.join(task, '20-real.sock'))
  fs.writeFileSync(path.join(task, '1-file.sock'), 'not a socket')
  fs.mkdirSync(path.join(task, '2-dir.sock'))
  fs.symlinkSync(path.join(task, '20-real.sock'), path.join(task, '3-link.sock'))
  const dir = newDir(t, root)
  t.same((await dir.lookup('T')).map(p => path.basename(p)), ['20-real.sock'])
})

t.test('a missing or empty task directory gives []', async t => {
  const root = tempDir(t)
  fs.mkdirSync(path.join(root, 'Empty'))
  fs.writeFileSync(path.join(root, 'AFile'), '')
  const dir = newDir(t, root)
  t.same(await dir.lookup('Nope'), [])
  t.same(await dir.lookup('Empty'), [])
  t.same(await dir.lookup('AFile'), [])
  const gone = newDir(t, path.join(root, 'no-such-root'))
  t.same(await gone.lookup('T'), [])
})

t.test('task names that are not one plain segment are refused', async t => {
  for (const bad of ['..', '.', 'a/b', '/abs', 'a\0b', '', 'x'.repeat(256)]) {
    t.throws(() => { checkTaskName(bad) }, { code: 'ERR_TASK_NAME' }, JSON.stringify(bad))
  }
  for (const good of ['CPUInfo', 'a.b', '...', 'a b', 'x'.repeat(255)]) checkTaskName(good)
  const dir = newDir(t, tempDir(t))
  await t.rejects(dir.lookup('../etc'), { code: 'ERR_TASK_NAME' })
  await t.rejects(dir.lookup('..'), { code: 'ERR_TASK_NAME' })
})

t.test('a provider that appears, then disappears, is seen by a following lookup', async t => {
  const root = tempDir(t)
  const task = path.join(root, 'T')
  fs.mkdirSync(task)
  await makeSocket(t, path.join(task, '10-first.sock'))
  const dir = newDir(t, root, 60_000)
  t.same((await dir.lookup('T')).map(p => path.basename(p)), ['10-first.sock'])

  const second = await makeSocket(t, path.join(task, '5-second.sock'))
  const seen = await lookupUntil(dir, 'T', l => l.length === 2)
  t.same(seen.map(p => path.basename(p)), ['5-second.sock', '10-first.sock'], 'appeared')

  await closeServer(second)
  const after = await lookupUntil(dir, 'T', l => l.length === 1)
  t.same(after.map(p => path.basename(p)), ['10-first.sock'], 'disappeared')
})

t.test('a task directory created after a lookup is seen', async t => {
  const root = tempDir(t)
  const dir = newDir(t, root, 60_000)
  t.same(await dir.lookup('Late'), [])
  fs.mkdirSync(path.join(root, 'Late'))
  await makeSocket(t, path.join(root, 'Late', '1-p.sock'))
  t.same((await dir.lookup('Late')).map(p => path.basename(p)), ['1-p.sock'])
})

t.test('a removed and recreated task directory is seen', async t => {
  const root = tempDir(t)
  const task = path.join(root, 'T')
  fs.mkdirSync(task)
  const first = await makeSocket(t, path.join(task, '1-a.sock'))
  const dir = newDir(t, root, 60_000)
  t.equal((await dir.lookup('T')).length, 1)
  await closeServer(first)
  fs.rmSync(task, { recursive: true })
  t.same(await lookupUntil(dir, 'T', l => l.length === 0), [])
  fs.mkdirSync(task)
  await makeSocket(t, path.join(task, '2-b.sock'))
  const list = await lookupUntil(dir, 'T', l => l.length === 1)
  t.same(list.map(p => path.basename(p)), ['2-b.sock'])
})

t.test('with maxAgeMs 0 a change is seen by the very next lookup', async t => {
  const root = tempDir(t)
  const task = path.join(root, 'T')
  fs.mkdirSync(task)
  const dir = newDir(t, root, 0)
  t.same(await dir.lookup('T'), [])
  const s = await makeSocket(t, path.join(task, '1-a.sock'))
  t.same((await dir.lookup('T')).map(p => path.basename(p)), ['1-a.sock'])
  await closeServer(s)
  t.same(await dir.lookup('T'), [])
})

t.test('a cached list is read again after maxAgeMs even without a watcher event', async t => {
  const root = tempDir(t)
  const task = path.join(root, 'T')
  fs.mkdirSync(task)
  await makeSocket(t, path.join(task, '1-a.sock'))
  const dir = newDir(t, root, 50)
  t.equal((await dir.lookup('T')).length, 1)
  t.equal((await dir.lookup('T')).length, 1)
  t.equal(dir.stats().reads, 1, 'second lookup was a hit')
  await new Promise(resolve => setTimeout(resolve, 60))
  t.equal((await dir.lookup('T')).length, 1)
  t.equal(dir.stats().reads, 2, 'expired entry read again')
  t.equal(dir.stats().cachedTasks, 1)
})

t.test('the cache serves repeated lookups without reading the directory', async t => {
  const root = tempDir(t)
  const task = path.join(root, 'T')
  fs.mkdirSync(task)
  await makeSocket(t, path.join(task, '1-a.sock'))
  const dir = newDir(t, root, 60_000)
  const a = await dir.lookup('T')
  const b = await dir.lookup('T')
  const c = await dir.lookup('T')
  t.same(dir.stats(), { cachedTasks: 1, reads: 1, hits: 2 })
  t.same(b, a)
  t.not(b, a, 'callers get their own copy')
  c.length = 0
  t.equal((await dir.lookup('T')).length, 1, 'a caller cannot corrupt the cache')
})

t.test('100 concurrent lookups share the read and all get the right list', async t => {
  const root = tempDir(t)
  for (const task of ['A', 'B']) {
    fs.mkdirSync(path.join(root, task))
    for (const name of ['3-x.sock', '1-y.sock']) await makeSocket(t, path.join(root, task, name))
  }
  const dir = newDir(t, root, 60_000)
  const results = await Promise.all(Array.from({ length: 100 }, (_, i) => dir.lookup(i % 2 === 0 ? 'A' : 'B')))
  results.forEach((list, i) => {
    const task = i % 2 === 0 ? 'A' : 'B'
    if (list.join() !== [path.join(root, task, '1-y.sock'), path.join(root, task, '3-x.sock')].join()) {
      t.fail(`lookup ${i}: ${list.join()}`)
    }
  })
  t.equal(results.length, 100)
  t.equal(dir.stats().reads, 2, 'one read per task')
  t.not(results[0], results[2], 'each caller its own array')
})

t.test('holds at most MAX_CACHED_TASKS watchers and keeps working past it', async t => {
  const root = tempDir(t)
  const n = MAX_CACHED_TASKS + 10
  for (let i = 0; i < n; i++) fs.mkdirSync(path.join(root, `T${i}`))
  await makeSocket(t, path.join(root, 'T0', '1-a.sock'))
  const dir = newDir(t, root, 60_000)
  for (let i = 0; i < n; i++) await dir.lookup(`T${i}`)
  t.equal(dir.stats().cachedTasks, MAX_CACHED_TASKS)
  // T0 was evicted (oldest); its list is read again, correctly.
  t.same((await dir.lookup('T0')).map(p => path.basename(p)), ['1-a.sock'])
})

t.test('after close() lookups still answer, uncached', async t => {
  const root = tempDir(t)
  fs.mkdirSync(path.join(root, 'T'))
  const dir = newDir(t, root, 60_000)
  t.same(await dir.lookup('T'), [])
  dir.close()
  dir.close()
  t.equal(dir.stats().cachedTasks, 0)
  await makeSocket(t, path.join(root, 'T', '1-a.sock'))
  t.equal((await dir.lookup('T')).length, 1)
})

t.test('an unreadable task directory is an ERR_PROVIDER_DIR error, not a crash', async t => {
  const root = tempDir(t)
  // A symlink loop fails with ELOOP for watch and readdir alike, even for root.
  fs.symlinkSync(path.join(root, 'T'), path.join(root, 'T'))
  const dir = newDir(t, root, 60_000)
  await t.rejects(dir.lookup('T'), { code: 'ERR_PROVIDER_DIR' })
  t.equal(dir.stats().cachedTasks, 0, 'nothing cached')
})
