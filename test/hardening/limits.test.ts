/**
 * Operating limits enforced end to end (SPEC 9), where the other suites do not already show
 * them: tracked requests, socket and directory permissions, socket paths over sun_path.
 * (Body, frame, header, body-time and keep-alive limits: bad-input-*.test.ts; dispatch and
 * hook timeouts and retries: faults.test.ts; one-shot stream sockets: core/streams-oneshot.)
 */
import t, { type Test } from 'tap'
import { spawn } from 'node:child_process'
import { mkdirSync, rmSync, statSync } from 'node:fs'
import { once } from 'node:events'
import { join } from 'node:path'
import { post, startCoordinator } from '../fixtures/coordinator.js'
import { startFakeProvider } from '../fixtures/fake-provider.js'
import { startHttpHook } from '../fixtures/hook-sink.js'
import { startHttpServer } from '../fixtures/http-helpers.js'
import { sendFrame, unixPathOf } from '../fixtures/wire.js'

t.test('max_tracked: beyond it 503 / an error ack; the tracked ones are untouched and get their responses', async t => {
  const c = await startCoordinator(t, { max_tracked: 3 })
  const hook = await startHttpHook()
  t.teardown(() => hook.close())
  const provider = await startFakeProvider({ path: join(c.dir, 'Q', '1-p.sock'), reply: r => ({ result: JSON.stringify(r.id), delayMs: 400 }) })
  t.teardown(() => provider.close())
  for (const id of ['a', 'b', 'c']) {
    t.equal((await post(c.url('/'), JSON.stringify({ id, task: 'Q', responseHook: hook.url('/kept') }))).status, 200)
  }
  t.equal(c.coordinator.tracker.size, 3)

  const http = await post(c.url('/'), JSON.stringify({ id: 'd', task: 'Q', responseHook: hook.url('/over') }))
  t.equal(http.status, 503)
  t.equal(http.body, '{"error":"too many tracked requests (limit 3)","id":"d","result":null,"streamURL":null}')
  const unix = await sendFrame(c.coordinator.addresses.requestSocket, JSON.stringify({ id: 'e', task: 'Q', responseHook: hook.url('/over') }))
  t.equal(unix, '{"error":"too many tracked requests (limit 3)","id":"e","result":null,"streamURL":null}')
  const dup = await post(c.url('/'), JSON.stringify({ id: 'a', task: 'Q', responseHook: hook.url('/over') }))
  t.equal(dup.status, 400, 'a duplicate of a tracked id is still a duplicate')
  // untracked requests (a unix hook, or none) are not counted
  t.equal((await post(c.url('/'), JSON.stringify({ id: 'f', task: 'Q' }))).status, 200)
  t.equal(provider.received.length, 4, 'the refused ones never reached the provider')

  const delivered = await hook.waitFor(3)
  t.same(delivered.map(d => [d.path, d.json.id]).sort(), [['/kept', 'a'], ['/kept', 'b'], ['/kept', 'c']])
  t.equal(c.coordinator.tracker.size, 0)
  t.equal((await post(c.url('/'), JSON.stringify({ id: 'g', task: 'Q', responseHook: hook.url('/kept') }))).status, 200, 'room again')
  await hook.waitFor(4)
})

function modeOf (path: string): number {
  return statSync(path).mode & 0o777
}

async function streamSocketOf (t: Test, dir: string, url: (p?: string) => string): Promise<string> {
  const source = await startHttpServer(t, (_req, res) => { res.end('bytes') })
  const provider = await startFakeProvider({ path: join(dir, 'S', '1-p.sock') })
  t.teardown(() => provider.close())
  t.equal((await post(url('/'), JSON.stringify({ id: 'st', task: 'S', streamURL: `${source.url}/x` }))).status, 200)
  return unixPathOf(JSON.parse(provider.received[0] ?? '{}').streamURL) ?? ''
}

t.test('sockets get socket_mode (default 0660) and directories 0755 at most: nothing world-writable', async t => {
  const umask = process.umask()
  for (const [settings, expected] of [[{}, 0o660], [{ socket_mode: '600' }, 0o600]] as const) {
    const c = await startCoordinator(t, settings)
    const { requestSocket, responseSocket } = c.coordinator.addresses
    const oneShot = await streamSocketOf(t, c.dir, c.url)
    for (const path of [requestSocket, responseSocket, oneShot]) {
      t.equal(modeOf(path).toString(8), expected.toString(8), `${path.slice(c.dir.length)}: mode`)
    }
    for (const d of ['coordinator', 'response', 'streams']) {
      const mode = modeOf(join(c.dir, d))
      t.equal(mode.toString(8), (0o755 & ~umask).toString(8), `${d}/: mode`)
      t.equal(mode & 0o002, 0, `${d}/: not world-writable (the original made it 0777)`)
    }
  }
})

t.test('a socket_dir created by the coordinator gets 0755 at most', async t => {
  const parent = join(process.env.TMPDIR ?? '/tmp', `co-lim-${process.pid}`)
  t.teardown(() => { rmSync(parent, { recursive: true, force: true }) })
  const dir = join(parent, 'new')
  await startCoordinator(t, {}, { dir })
  t.equal(modeOf(dir) & 0o022, 0, 'neither group- nor world-writable')
})

// A peer in another process connects BURST times while this process (the coordinator) is
// busy and accepts nothing: each connect past the listen backlog fails at once with EAGAIN.
const BURST = 2000
const BURST_SCRIPT = `
const net = require('net')
const [path, n] = [process.argv[1], Number(process.argv[2])]
const counts = { queued: 0, eagain: 0, other: 0 }
const sockets = []
let done = 0
const finish = () => {
  if (++done < n) return
  process.stdout.write(JSON.stringify(counts) + '\\n')
  for (const s of sockets) s.destroy()
  process.exit(0)
}
process.stdout.write('ready\\n')
setTimeout(() => {
  for (let i = 0; i < n; i++) {
    const s = net.connect(path)
    sockets.push(s)
    s.on('connect', () => { counts.queued++; finish() })
    s.on('error', err => { if (err.code === 'EAGAIN') counts.eagain++; else counts.other++; finish() })
  }
}, 200)
`

t.test(`a burst of ${BURST} responses to a busy coordinator waits in the queue (backlog 4096, not node's 511)`, async t => {
  const c = await startCoordinator(t, { read_timeout: 0.5 })
  const env = { ...process.env }
  delete env.NODE_OPTIONS
  const child = spawn(process.execPath, ['-e', BURST_SCRIPT, c.coordinator.addresses.responseSocket, String(BURST)], { env, stdio: ['ignore', 'pipe', 'inherit'] })
  t.teardown(() => { child.kill('SIGKILL') })
  let out = ''
  child.stdout.on('data', (chunk: Buffer) => { out += chunk.toString() })
  await once(child.stdout, 'data')
  // Busy, as under load: nothing is accepted while the burst comes in.
  const until = Date.now() + 1500
  while (Date.now() < until) { /* spin */ }
  await once(child, 'exit')
  const counts = JSON.parse(out.slice(out.indexOf('{'))) as { queued: number, eagain: number, other: number }
  t.same(counts, { queued: BURST, eagain: 0, other: 0 }, 'every connect queued, none refused with EAGAIN')
  t.equal(JSON.parse(await sendFrame(c.coordinator.addresses.responseSocket, '{"id":"after"}')).error, '', 'and it serves on')
})

t.test('socket paths over the 107-byte sun_path limit are refused with a clear error, not EINVAL', async t => {
  const c = await startCoordinator(t)
  // a taskURL naming a socket path that cannot exist
  const long = `/tmp/${'x'.repeat(120)}.sock`
  const onSocket = await post(c.url('/'), JSON.stringify({ id: 'long1', task: 'T', taskURL: `unix://${long}` }))
  t.equal(onSocket.status, 400)
  t.equal(JSON.parse(onSocket.body).error, `socket path is 130 bytes, limit 107: ${long}`)

  // a provider whose socket path (task directory included) is over the limit: it can only be
  // bound relative to its directory, and the coordinator refuses it by its length
  const task = 't'.repeat(110 - c.dir.length)
  const taskDir = join(c.dir, task)
  mkdirSync(taskDir)
  const env = { ...process.env }
  delete env.NODE_OPTIONS
  const child = spawn(process.execPath, ['-e', "require('net').createServer(s => s.destroy()).listen('1-p.sock', () => console.log('ready'))"],
    { cwd: taskDir, env, stdio: ['ignore', 'pipe', 'inherit'] })
  t.teardown(() => { child.kill('SIGKILL') })
  await once(child.stdout, 'data')
  const full = join(taskDir, '1-p.sock')
  t.ok(Buffer.byteLength(full) > 107, `${Buffer.byteLength(full)} bytes`)
  const answer = await post(c.url('/'), JSON.stringify({ id: 'long2', task }))
  t.equal(answer.status, 502)
  t.equal(JSON.parse(answer.body).error, `socket path is ${Buffer.byteLength(full)} bytes, limit 107: ${full}`)
  t.equal((await post(c.url('/'), JSON.stringify({ id: 'long3', task: 'Nope' }))).status, 404, 'and the next request is served')
})
