/**
 * Faults seen from outside, with the built `coordinator` command as a child process: SIGTERM
 * with 200 requests in flight, and 10 000 tracked requests waiting at once (memory per
 * tracked request, measured in the child with gc exposed). Needs `npm run build` first.
 */
import t, { type Test } from 'tap'
import { spawn } from 'node:child_process'
import { existsSync, readdirSync, rmSync } from 'node:fs'
import { Agent, request } from 'node:http'
import { join } from 'node:path'
import { COORDINATOR_BIN, freePort } from '../fixtures/cli.js'
import { socketDir } from '../fixtures/coordinator.js'
import { startFakeProvider } from '../fixtures/fake-provider.js'
import { startHttpHook } from '../fixtures/hook-sink.js'
import { delay } from '../fixtures/http-helpers.js'
import { sendFrame } from '../fixtures/wire.js'

// Loaded into the child: on SIGUSR2, collect garbage and print the memory as one JSON line.
const MEMORY_PROBE = 'data:text/javascript,' + encodeURIComponent(
  "process.on('SIGUSR2', () => { gc(); gc(); const m = process.memoryUsage(); " +
  "process.stderr.write(JSON.stringify({ probe: 'memory', heapUsed: m.heapUsed, rss: m.rss }) + '\\n') })"
)

interface Memory { heapUsed: number, rss: number }

interface Child {
  exited: Promise<number | string>
  kill (signal: NodeJS.Signals): void
  /** resolves once stderr has a line matching `re` (after `from` lines) */
  waitForLine (re: RegExp, from?: number): Promise<string>
  lines (): string[]
  memory (): Promise<Memory>
}

/** The built CLI with gc exposed and the memory probe loaded; killed at teardown. */
function runProbedCoordinator (t: Test, args: string[]): Child {
  const env = { ...process.env }
  delete env.NODE_OPTIONS
  const proc = spawn(process.execPath, ['--expose-gc', '--import', MEMORY_PROBE, COORDINATOR_BIN, ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] })
  t.teardown(() => { if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL') })
  let partial = ''
  const lines: string[] = []
  let waiters: Array<() => void> = []
  proc.stderr?.on('data', (chunk: Buffer) => {
    const parts = (partial + chunk.toString()).split('\n')
    partial = parts.pop() ?? ''
    lines.push(...parts)
    const w = waiters
    waiters = []
    for (const f of w) f()
  })
  const exited = new Promise<number | string>(resolve => { proc.on('exit', (code, signal) => { resolve(code ?? signal ?? -1) }) })
  const waitForLine = (re: RegExp, from = 0): Promise<string> => new Promise((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`no line matching ${re}:\n${lines.join('\n')}`)) }, 15_000)
    const check = (): void => {
      const found = lines.slice(from).find(l => re.test(l))
      if (found !== undefined) { clearTimeout(timer); resolve(found); return }
      if (proc.exitCode !== null) { clearTimeout(timer); reject(new Error(`exited:\n${lines.join('\n')}`)); return }
      waiters.push(check)
    }
    check()
  })
  return {
    exited,
    kill: signal => { proc.kill(signal) },
    waitForLine,
    lines: () => lines,
    async memory () {
      const from = lines.length
      proc.kill('SIGUSR2')
      return JSON.parse(await waitForLine(/"probe":"memory"/, from)) as Memory
    }
  }
}

function tempDir (t: Test): string {
  const dir = socketDir()
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  return dir
}

/** POSTs with a keep-alive agent; resolves with status and body. */
function postWith (agent: Agent, url: string, body: string): Promise<{ status: number, body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', agent, headers: { 'Content-Type': 'application/json' } }, res => {
      let text = ''
      res.on('data', (chunk: Buffer) => { text += chunk.toString() })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, body: text }) })
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(body)
  })
}

/** Runs `fn` on 0..n-1, at most `limit` at once. */
async function pool (n: number, limit: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0
  await Promise.all(Array.from({ length: limit }, async () => {
    while (next < n) await fn(next++)
  }))
}

t.test('SIGTERM with 200 requests in flight: each answered, each accepted one gets its response or timeout, exit 0, sockets removed', async t => {
  const dir = tempDir(t)
  const port = await freePort()
  const hook = await startHttpHook()
  t.teardown(() => hook.close())
  // even ids are answered after 100-500 ms; odd ids never, so they get their timeout
  const provider = await startFakeProvider({
    path: join(dir, 'Work', '1-p.sock'),
    reply: r => Number(String(r.id).slice(1)) % 2 === 0 ? { result: JSON.stringify(r.id), delayMs: 100 + Math.floor(Math.random() * 400) } : null
  })
  t.teardown(() => provider.close())
  const child = runProbedCoordinator(t, ['-n', 'term', '-s', dir, '-p', String(port), '-l', 'info', '-t', '1.5', '--bind_address', '127.0.0.1'])
  await child.waitForLine(/coordinator ready/)

  const agent = new Agent({ keepAlive: true, maxSockets: 50 })
  t.teardown(() => { agent.destroy() })
  const N = 200
  let acked = 0
  let signalled = false
  const answers = await Promise.all(Array.from({ length: N }, async (_, i) => {
    const answer = await postWith(agent, `http://127.0.0.1:${port}/`, JSON.stringify({ id: `r${i}`, task: 'Work', responseHook: hook.url() }))
    // the signal comes while the rest are still in flight
    if (++acked === N / 2) { signalled = true; child.kill('SIGTERM') }
    return answer
  }))
  t.ok(signalled)
  t.equal(answers.length, N, 'every request got an HTTP answer')
  const accepted = answers.flatMap((a, i) => a.status === 200 ? [`r${i}`] : [])
  const refused = answers.filter(a => a.status === 503)
  t.equal(accepted.length + refused.length, N, 'each one accepted (200) or refused while stopping (503)')
  t.ok(refused.every(a => JSON.parse(a.body).error === 'coordinator is shutting down'))
  t.ok(accepted.length >= N / 2, `${accepted.length} accepted, ${refused.length} refused`)

  t.equal(await child.exited, 0, 'exit 0')
  t.equal(hook.delivered.length, accepted.length, 'one delivery per accepted request, all before exit')
  const byId = new Map(hook.delivered.map(d => [d.json.id as string, d.json]))
  t.equal(byId.size, accepted.length, 'no id delivered twice')
  for (const id of accepted) {
    const got = byId.get(id)
    const even = Number(id.slice(1)) % 2 === 0
    if (even) t.equal(got?.result, id, `${id}: its response`)
    else t.equal(got?.error, 'response timeout', `${id}: its timeout`)
  }
  t.notOk(existsSync(join(dir, 'coordinator', 'term.sock')), 'request socket removed')
  t.notOk(existsSync(join(dir, 'response', 'term.sock')), 'response socket removed')
  t.same(existsSync(join(dir, 'streams')) ? readdirSync(join(dir, 'streams')) : [], [], 'no stream socket left')
})

t.test('10 000 tracked requests at once: memory per tracked request is bounded and given back', async t => {
  const dir = tempDir(t)
  const port = await freePort()
  const hook = await startHttpHook()
  t.teardown(() => hook.close())
  const quiet = await startFakeProvider({ path: join(dir, 'Wait', '1-p.sock'), reply: () => null })
  t.teardown(() => quiet.close())
  const warm = await startFakeProvider({ path: join(dir, 'Warm', '1-p.sock'), reply: r => ({ result: JSON.stringify(r.id) }) })
  t.teardown(() => warm.close())
  // Many long tasks at once: the pending-responses bound is raised to let them all through.
  const child = runProbedCoordinator(t, ['-n', 'mem', '-s', dir, '-p', String(port), '-l', 'info', '-t', '120', '--bind_address', '127.0.0.1', '--max_pending_responses', '20000'])
  await child.waitForLine(/coordinator ready/)
  const agent = new Agent({ keepAlive: true, maxSockets: 32 })
  t.teardown(() => { agent.destroy() })
  const url = `http://127.0.0.1:${port}/`

  // Warm up every path (JIT, pools, buffers) with answered requests first.
  const WARM = 500
  await pool(WARM, 32, async i => {
    const a = await postWith(agent, url, JSON.stringify({ id: `w${i}`, task: 'Warm', responseHook: hook.url() }))
    if (a.status !== 200) throw new Error(`warm-up ${i}: ${a.status}`)
  })
  await hook.waitFor(WARM, 20_000)
  await delay(300)
  const before = await child.memory()

  const N = 10_000
  await pool(N, 32, async i => {
    const a = await postWith(agent, url, JSON.stringify({ id: `t${i}`, task: 'Wait', responseHook: hook.url('/t') }))
    if (a.status !== 200) throw new Error(`request ${i}: ${a.status} ${a.body}`)
  })
  t.equal(quiet.received.length, N, 'all dispatched and waiting')
  const during = await child.memory()
  const perRequest = (during.heapUsed - before.heapUsed) / N
  t.comment(`heap ${(before.heapUsed / 1e6).toFixed(1)} MB -> ${(during.heapUsed / 1e6).toFixed(1)} MB with ${N} tracked: ${Math.round(perRequest)} B per tracked request; RSS ${(before.rss / 1e6).toFixed(0)} -> ${(during.rss / 1e6).toFixed(0)} MB`)
  t.ok(perRequest > 0, 'tracking costs something (the measure works)')
  t.ok(perRequest < 4096, `${Math.round(perRequest)} B per tracked request (bound 4 KiB)`)

  // Answer them all through the response socket: every one delivered, the memory given back.
  const responseSocket = join(dir, 'response', 'mem.sock')
  await pool(N, 32, async i => {
    const ack = await sendFrame(responseSocket, `{"id":"t${i}","result":${i},"error":""}`)
    if (JSON.parse(ack).error !== '') throw new Error(ack)
  })
  await hook.waitFor(WARM + N, 30_000)
  await delay(300)
  const after = await child.memory()
  t.comment(`after all ${N} answered: heap ${(after.heapUsed / 1e6).toFixed(1)} MB, RSS ${(after.rss / 1e6).toFixed(0)} MB`)
  t.ok(after.heapUsed - before.heapUsed < 2e6, `heap back within 2 MB of the start (${((after.heapUsed - before.heapUsed) / 1e6).toFixed(2)} MB)`)
  const results = hook.delivered.filter(d => d.path === '/t')
  t.equal(results.length, N, 'each tracked request delivered')
  t.equal(new Set(results.map(d => d.json.id)).size, N, 'once')
  t.ok(results.every(d => d.json.id === `t${String(d.json.result)}`), 'each with its own result')
  child.kill('SIGTERM')
  t.equal(await child.exited, 0)
})
