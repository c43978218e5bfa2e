/**
 * Runs the built coordinator CLI (`dist/cli/coordinator.js`) as a child process with a
 * fresh socket directory and port, times its start to ready, and stops it with SIGTERM.
 */
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The built CLI; `npm run bench` builds it first. */
export const COORDINATOR_BIN = fileURLToPath(new URL('../../dist/cli/coordinator.js', import.meta.url))

const READY_TIMEOUT_MS = 10_000
const STOP_TIMEOUT_MS = 15_000
const SERVICE = 'bench'

// node flags for every coordinator of the run (run.js --node-args), before per-start ones
let baseNodeArgs = []
const live = new Set()
const dirs = new Set()
// A runner that dies (an error, Ctrl-C) must leave no coordinator and no socket dir behind.
process.on('exit', () => {
  for (const proc of live) proc.kill('SIGKILL')
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort () {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}

/** A fresh, short socket directory (sun_path holds 108 bytes). */
export function socketDir () {
  const dir = mkdtempSync(join(tmpdir(), 'cb-'))
  dirs.add(dir)
  return dir
}

/** Sets the node flags every coordinator of this run starts with (e.g. `--max-semi-space-size=4`). */
export function setBaseNodeArgs (args) {
  baseNodeArgs = args
}

/**
 * Starts a coordinator on `dir` and a free port; resolves once it logged `coordinator
 * ready` (every listener is up). `settings` are extra long flags (`{ request_timeout: 30 }`),
 * `nodeArgs` go to node itself (`--cpu-prof`).
 */
export async function startCoordinator ({ dir, settings = {}, nodeArgs = [] }) {
  if (!existsSync(COORDINATOR_BIN)) throw new Error(`${COORDINATOR_BIN} is missing: run npm run build first`)
  const port = await freePort()
  const args = [
    ...baseNodeArgs, ...nodeArgs, COORDINATOR_BIN,
    '--service_name', SERVICE, '--socket_dir', dir, '--external_port', String(port),
    '--bind_address', '127.0.0.1', '--log_level', 'info'
  ]
  for (const [key, value] of Object.entries(settings)) args.push(`--${key}`, String(value))
  const startedAt = performance.now()
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] })
  live.add(proc)
  const levels = {}
  const notable = []
  let partial = ''
  let onReady
  const exited = new Promise(resolve => {
    proc.on('exit', (code, signal) => { live.delete(proc); resolve(code ?? signal) })
  })
  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`coordinator not ready in ${READY_TIMEOUT_MS} ms:\n${notable.join('\n')}`)), READY_TIMEOUT_MS)
    onReady = () => { clearTimeout(timer); resolve(performance.now() - startedAt) }
    exited.then(code => { clearTimeout(timer); reject(new Error(`coordinator exited (${code}) before ready:\n${partial}${notable.join('\n')}`)) })
  })
  proc.stderr.setEncoding('utf8')
  proc.stderr.on('data', text => {
    const lines = (partial + text).split('\n')
    partial = lines.pop()
    for (const line of lines) {
      let entry
      try { entry = JSON.parse(line) } catch { entry = { level: 'text', msg: line } }
      levels[entry.level] = (levels[entry.level] ?? 0) + 1
      if (entry.msg === 'coordinator ready') onReady()
      else if (entry.level !== 'info' && entry.level !== 'debug' && notable.length < 20) notable.push(line)
    }
  })
  const readyMs = await ready
  return {
    pid: proc.pid,
    port,
    dir,
    readyMs,
    url: `http://127.0.0.1:${port}/`,
    requestSocket: join(dir, 'coordinator', `${SERVICE}.sock`),
    responseSocket: join(dir, 'response', `${SERVICE}.sock`),
    /** log lines seen so far, by level */
    levels,
    /** the first warnings and errors it logged */
    notable,
    /** SIGTERM (drain, exit 0), SIGKILL after a bound; resolves with the exit code */
    stop () {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM')
      const timer = setTimeout(() => { proc.kill('SIGKILL') }, STOP_TIMEOUT_MS)
      return exited.finally(() => clearTimeout(timer))
    }
  }
}

/**
 * Options of startCoordinator() for a run under `node --cpu-prof` writing to `profileDir`
 * (undefined: a plain run). The drain is bounded so that it exits, and writes its profile,
 * whatever happened.
 */
export function profiled (dir, profileDir) {
  return profileDir === undefined
    ? { dir }
    : { dir, nodeArgs: ['--cpu-prof', '--cpu-prof-dir', profileDir], settings: { drain_timeout: 5 } }
}

/** Removes a socket directory made by socketDir(). */
export function removeDir (dir) {
  rmSync(dir, { recursive: true, force: true })
  dirs.delete(dir)
}
