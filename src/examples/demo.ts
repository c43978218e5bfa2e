#!/usr/bin/env node
/**
 * `npm run demo`: a coordinator (with a built-in config, on a free port, in a temporary
 * socket dir), the example provider, and a few `coordinator-cli` calls, results and streams
 * included, each checked and shown; then everything is stopped and the directory removed.
 * Exit status 0 when every step did what it should.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, lstatSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { byteRange } from './example-tasks.js'

const DIST = dirname(dirname(fileURLToPath(import.meta.url)))
const COORDINATOR_JS = join(DIST, 'cli', 'coordinator.js')
const CLI_JS = join(DIST, 'cli', 'coordinator-cli.js')
const PROVIDER_JS = join(DIST, 'examples', 'example-provider.js')

const SERVICE = 'demo'
const START_TIMEOUT_MS = 10_000
const STOP_TIMEOUT_MS = 10_000
const CALL_TIMEOUT_S = 10
const PORT_ATTEMPTS = 5
const SHOWN_CHARS = 150
const STREAM_BYTES = 1024 * 1024

/** A child process with its output collected. */
interface Child {
  proc: ChildProcess
  name: string
  outBytes: () => Buffer
  out: () => string
  err: () => string
  exited: Promise<number | string>
}

/** What one coordinator-cli run produced. */
interface Run {
  code: number | string
  stdout: Buffer
  stderr: string
  ms: number
}

const children: Child[] = []
let dir = ''

function say (line = ''): void {
  process.stdout.write(line + '\n')
}

function spawnChild (name: string, args: string[], stdin: 'ignore' | 'pipe' = 'ignore'): Child {
  const proc = spawn(process.execPath, args, { stdio: [stdin, 'pipe', 'pipe'] })
  const out: Buffer[] = []
  const err: Buffer[] = []
  proc.stdout?.on('data', (c: Buffer) => out.push(c))
  proc.stderr?.on('data', (c: Buffer) => err.push(c))
  const exited = new Promise<number | string>(resolve => {
    // 'close', not 'exit': the output pipes are drained by then
    proc.on('close', (code, signal) => { resolve(code ?? signal ?? -1) })
    proc.on('error', () => { resolve(-1) })
  })
  return {
    proc,
    name,
    outBytes: () => Buffer.concat(out),
    out: () => Buffer.concat(out).toString(),
    err: () => Buffer.concat(err).toString(),
    exited
  }
}

/** Resolves once `text()` matches `re`; rejects when the child exits first or time runs out. */
async function waitFor (child: Child, text: () => string, re: RegExp): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS
  let exited = false
  void child.exited.then(() => { exited = true })
  while (!re.test(text())) {
    if (exited) throw new Error(`${child.name} exited (${String(await child.exited)}): ${child.err().trim()}`)
    if (Date.now() > deadline) throw new Error(`${child.name} not ready after ${START_TIMEOUT_MS} ms: ${child.err().trim()}`)
    await sleep(20)
  }
}

function sleep (ms: number): Promise<void> {
  return new Promise(resolve => setTimeout(resolve, ms))
}

function freePort (): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo
      server.close(() => { resolve(port) })
    })
  })
}

/** Starts the coordinator on a free port; another port is tried if one is taken meanwhile. */
async function startCoordinator (): Promise<{ child: Child, port: number }> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort()
    const config = join(dir, 'coordinator.json')
    writeFileSync(config, JSON.stringify({
      service_name: SERVICE,
      socket_dir: dir,
      external_port: port,
      bind_address: '127.0.0.1',
      request_timeout: CALL_TIMEOUT_S,
      log_level: 'info'
    }, null, 2) + '\n')
    const child = spawnChild('coordinator', [COORDINATOR_JS, '--config_file', config])
    try {
      await waitFor(child, child.err, /coordinator ready/)
      children.push(child)
      return { child, port }
    } catch (err) {
      child.proc.kill('SIGKILL')
      if (attempt >= PORT_ATTEMPTS || !/EADDRINUSE|address already in use/i.test(child.err())) throw err
    }
  }
}

async function startProvider (): Promise<Child> {
  const child = spawnChild('example provider', [
    PROVIDER_JS, '-n', 'example', '-s', dir, '-u', `unix://${join(dir, 'coordinator', `${SERVICE}.sock`)}`, '--file_root', dir
  ])
  children.push(child)
  await waitFor(child, child.out, /serving/)
  return child
}

/** Runs coordinator-cli with `args`, feeding `input` on stdin if given. */
async function cli (args: string[], input?: Buffer): Promise<Run> {
  const started = performance.now()
  const child = spawnChild('coordinator-cli', [CLI_JS, ...args, '--timeout', String(CALL_TIMEOUT_S)], input === undefined ? 'ignore' : 'pipe')
  child.proc.stdin?.on('error', () => {})
  child.proc.stdin?.end(input)
  const code = await child.exited
  return { code, stdout: child.outBytes(), stderr: child.err(), ms: Math.round(performance.now() - started) }
}

function shown (text: string): string {
  const line = text.trim().replace(/\s*\n\s*/g, ' ')
  return line.length > SHOWN_CHARS ? line.slice(0, SHOWN_CHARS - 1) + '…' : line
}

function quote (arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, "'\\''")}'`
}

function sha256 (bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex')
}

let stepNo = 0
let passed = 0

/**
 * One step: shows the command, runs it, shows what came back, and checks it. `check`
 * returns the line to show (what was verified) or throws what went wrong.
 */
async function step (title: string, args: string[], check: (run: Run) => string, input?: { bytes: Buffer, shell: string }): Promise<void> {
  stepNo++
  say(`${stepNo}. ${title}`)
  say(`   $ ${input === undefined ? '' : `${input.shell} | `}coordinator-cli ${args.map(quote).join(' ')}`)
  const run = await cli(args, input?.bytes)
  let verdict: string
  let ok = true
  try {
    verdict = check(run)
  } catch (err) {
    ok = false
    verdict = (err as Error).message
  }
  say(`   ${verdict}`)
  say(`   ${ok ? 'ok' : 'FAILED'}: exit ${String(run.code)} in ${run.ms} ms`)
  say()
  if (ok) passed++
}

function expectExit (run: Run, code: number): void {
  if (run.code !== code) throw new Error(`expected exit ${code}, got ${String(run.code)}: ${shown(run.stderr)}`)
}

function jsonOutput (run: Run): unknown {
  expectExit(run, 0)
  try {
    return JSON.parse(run.stdout.toString())
  } catch {
    throw new Error(`not JSON: ${shown(run.stdout.toString())}`)
  }
}

async function stopAll (): Promise<Array<{ name: string, code: number | string }>> {
  const results: Array<{ name: string, code: number | string }> = []
  // the provider first: its task sockets go before the coordinator stops
  for (const child of [...children].reverse()) {
    if (child.proc.exitCode === null && child.proc.signalCode === null) child.proc.kill('SIGTERM')
    const timer = setTimeout(() => { child.proc.kill('SIGKILL') }, STOP_TIMEOUT_MS)
    const code = await child.exited
    clearTimeout(timer)
    results.push({ name: child.name, code })
  }
  children.length = 0
  return results
}

async function main (): Promise<number> {
  for (const file of [COORDINATOR_JS, CLI_JS, PROVIDER_JS]) {
    if (!existsSync(file)) {
      process.stderr.write(`demo: ${file} is missing: build first (npm run build)\n`)
      return 1
    }
  }
  dir = mkdtempSync(join(tmpdir(), 'co-demo-'))
  const requestSocket = join(dir, 'coordinator', `${SERVICE}.sock`)
  let steps = 0
  try {
    const { port } = await startCoordinator()
    await startProvider()
    const http = `http://127.0.0.1:${port}`
    const unix = `unix://${requestSocket}`
    say('coordinator demo: a coordinator, the example provider, and coordinator-cli')
    say(`  socket dir   ${dir} (removed at the end)`)
    say(`  coordinator  ${http}  and  ${unix}`)
    say('  provider     example: CPUInfo, MemoryInfo, SystemStatus, Echo, Stream')
    say()

    await step('CPUInfo over HTTP: the provider reads node:os', ['-c', http, '-t', 'CPUInfo'], run => {
      const cpus = jsonOutput(run)
      if (!Array.isArray(cpus) || cpus.length === 0) throw new Error(`expected a list of processors: ${shown(run.stdout.toString())}`)
      return `${shown(run.stdout.toString())}  (${cpus.length} processors)`
    })

    await step('Echo with nested args: dotted keys nest, numbers and booleans are typed',
      ['-c', http, '-t', 'Echo', '-a', 'greeting=hello', '-a', 'user.id=42', '-a', 'user.admin=false'], run => {
        const echoed = jsonOutput(run)
        const want = { greeting: 'hello', user: { id: 42, admin: false } }
        if (JSON.stringify(echoed) !== JSON.stringify(want)) throw new Error(`expected ${JSON.stringify(want)}, got ${shown(run.stdout.toString())}`)
        return shown(run.stdout.toString())
      })

    await step('SystemStatus over the unix socket: the provider calls CPUInfo and MemoryInfo through the coordinator',
      ['-c', unix, '-t', 'SystemStatus'], run => {
        const status = jsonOutput(run) as { cpus?: unknown, memory?: unknown }
        if (!Array.isArray(status.cpus) || typeof status.memory !== 'object') throw new Error(`expected cpus and memory: ${shown(run.stdout.toString())}`)
        return shown(run.stdout.toString())
      })

    const expected = await collect(byteRange(0, STREAM_BYTES))
    await step('Stream: a 1 MiB generated byte range, proxied by the coordinator',
      ['-c', http, '-t', 'Stream', '-a', `to=${STREAM_BYTES}`], run => {
        expectExit(run, 0)
        if (!run.stdout.equals(expected)) throw new Error(`stream differs: got ${run.stdout.length} bytes, sha256 ${sha256(run.stdout)}`)
        return `${run.stdout.length} bytes, sha256 ${sha256(run.stdout).slice(0, 16)}…, byte for byte as generated`
      })

    const sent = Buffer.from('a request stream: stdin of coordinator-cli, read by the provider\n')
    await step('Echo with a request stream: stdin goes to the provider and comes back',
      ['-c', http, '-t', 'Echo', '-s'], run => {
        expectExit(run, 0)
        if (!run.stdout.equals(sent)) throw new Error(`expected the bytes sent back, got ${JSON.stringify(run.stdout.toString())}`)
        return `${JSON.stringify(run.stdout.toString())} (${run.stdout.length} bytes, as sent)`
      }, { bytes: sent, shell: `echo '${sent.toString().trim()}'` })

    await step('An error response: the handler refuses bad args (exit 1, message on stderr)',
      ['-c', http, '-t', 'Stream', '-a', 'to=-1'], run => {
        expectExit(run, 1)
        if (!/response error: example Stream:/.test(run.stderr)) throw new Error(`unexpected stderr: ${shown(run.stderr)}`)
        return shown(run.stderr)
      })

    await step('A task no provider serves (exit 1)', ['-c', http, '-t', 'NoSuchTask'], run => {
      expectExit(run, 1)
      if (!/no providers available for task/.test(run.stderr)) throw new Error(`unexpected stderr: ${shown(run.stderr)}`)
      return shown(run.stderr)
    })
    steps = stepNo
  } catch (err) {
    say(`demo: ${(err as Error).message}`)
  } finally {
    const stopped = await stopAll()
    const left = socketsIn(dir)
    rmSync(dir, { recursive: true, force: true })
    if (stopped.length > 0) {
      say(`stopped: ${stopped.map(s => `${s.name} (exit ${String(s.code)})`).join(', ')}; ` +
        `${left.length > 0 ? `sockets LEFT BEHIND: ${left.join(' ')}` : 'sockets removed'}; ${existsSync(dir) ? 'temp dir NOT removed' : 'temp dir removed'}`)
      if (left.length > 0 || stopped.some(s => s.code !== 0)) steps = -1
    }
  }
  const ok = steps > 0 && passed === steps
  say(`demo: ${passed} of ${stepNo} steps as expected${ok ? '' : ' — see above'}`)
  return ok ? 0 : 1
}

/** Every socket file under `root`: after a clean stop there is none. */
function socketsIn (root: string): string[] {
  return readdirSync(root, { recursive: true, encoding: 'utf8' })
    .filter(name => lstatSync(join(root, name)).isSocket())
}

async function collect (stream: AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(chunk)
  return Buffer.concat(chunks)
}

function onInterrupt (): void {
  for (const child of children) child.proc.kill('SIGKILL')
  if (dir !== '') rmSync(dir, { recursive: true, force: true })
  process.exit(130)
}

process.once('SIGINT', onInterrupt)
process.once('SIGTERM', onInterrupt)

main().then(code => { process.exitCode = code }, (err: unknown) => {
  process.stderr.write(`demo: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`)
  process.exitCode = 1
})
