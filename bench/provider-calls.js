// Provider kit round trips: a provider's call() through a coordinator to another provider
// and back (request frame, ack, handler, response frame to the caller's response socket).
//
//   npm run build && node bench/provider-calls.js [--seconds 5] [--concurrency 32]
//
// The coordinator (dist/cli/coordinator.js) and the target provider (the example provider,
// its Echo task) each run in their own process; the caller runs here. Prints calls/s and
// the latency percentiles of one call.
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { Provider } from '../dist/index.js'

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    concurrency: { type: 'string', default: '32' }
  }
})
const SECONDS = Number(values.seconds)
const CONCURRENCY = Number(values.concurrency)
const WARMUP_MS = 1000

function freePort () {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}

function start (args, ready) {
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  let text = ''
  return new Promise((resolve, reject) => {
    const onData = chunk => {
      text += chunk
      if (ready.test(text)) resolve(proc)
    }
    proc.stdout.on('data', onData)
    proc.stderr.on('data', onData)
    proc.on('exit', code => reject(new Error(`${args[0]} exited ${code}: ${text}`)))
  })
}

// CPU time of a child process in ms, from /proc (Linux; 0 elsewhere).
function childCpu (pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
    return (Number(fields[11]) + Number(fields[12])) * 10
  } catch {
    return 0
  }
}

function stop (proc) {
  return new Promise(resolve => {
    if (proc.exitCode !== null) return resolve()
    proc.once('exit', resolve)
    proc.kill('SIGTERM')
  })
}

const dir = mkdtempSync(join(tmpdir(), 'co-bench-'))
const procs = []
try {
  const port = await freePort()
  procs.push(await start(['dist/cli/coordinator.js', '-n', 'bench', '-s', dir, '-p', String(port), '--bind_address', '127.0.0.1', '-l', 'info'], /coordinator ready/))
  const coordinatorUrl = `unix://${join(dir, 'coordinator', 'bench.sock')}`
  procs.push(await start(['dist/examples/example-provider.js', '-n', 'target', '-s', dir, '-u', coordinatorUrl], /serving/))
  const caller = new Provider({ serviceName: 'caller', socketDir: dir, coordinatorUrl })
  await caller.start()

  const latencies = []
  let calls = 0
  let errors = 0
  let measuring = false
  let running = true
  const args = { id: 42, name: 'bench', tags: ['a', 'b', 'c'] }
  async function worker () {
    while (running) {
      const begun = performance.now()
      try {
        await caller.call('Echo', args)
        if (measuring) {
          calls++
          latencies.push(performance.now() - begun)
        }
      } catch {
        if (measuring) errors++
      }
    }
  }
  const workers = Array.from({ length: CONCURRENCY }, worker)
  await new Promise(resolve => setTimeout(resolve, WARMUP_MS))
  measuring = true
  const begun = performance.now()
  const cpuBefore = [process.cpuUsage(), ...procs.map(p => childCpu(p.pid))]
  await new Promise(resolve => setTimeout(resolve, SECONDS * 1000))
  const cpuAfter = [process.cpuUsage(), ...procs.map(p => childCpu(p.pid))]
  measuring = false
  const elapsed = (performance.now() - begun) / 1000
  running = false
  await Promise.all(workers)
  await caller.stop()

  latencies.sort((a, b) => a - b)
  const pct = p => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))]?.toFixed(2) ?? '-'
  console.log(`provider call() through the coordinator, ${CONCURRENCY} at once, ${SECONDS} s`)
  console.log(`  ${Math.round(calls / elapsed)} calls/s, ${errors} errors`)
  console.log(`  latency ms: p50 ${pct(0.5)}  p90 ${pct(0.9)}  p99 ${pct(0.99)}  max ${pct(1)}`)
  const ownMs = (cpuAfter[0].user + cpuAfter[0].system - cpuBefore[0].user - cpuBefore[0].system) / 1000
  const names = ['caller (kit)', 'coordinator', 'target provider (kit)']
  const perCall = [ownMs, ...procs.map((_, i) => cpuAfter[i + 1] - cpuBefore[i + 1])].map((ms, i) => `${names[i]} ${(ms * 1000 / calls).toFixed(0)} µs`)
  console.log(`  CPU per call: ${perCall.join(', ')}`)
} finally {
  for (const proc of procs.reverse()) await stop(proc)
  rmSync(dir, { recursive: true, force: true })
}
