/**
 * Fixtures run in their own processes (they share the cores with the coordinator, and a
 * separate pid keeps their CPU out of its figures). This is both ends of their small IPC
 * protocol: the parent forks and queries; the child reports ready and answers queries.
 */
import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url))
const READY_TIMEOUT_MS = 10_000
const QUERY_TIMEOUT_MS = 10_000
const STOP_TIMEOUT_MS = 3_000

const live = new Set()

// A runner that dies (an error, Ctrl-C) must not leave its fixtures behind.
process.on('exit', () => { for (const child of live) child.kill('SIGKILL') })

/**
 * Forks `bench/fixtures/<name>.js` with `args`; resolves once it reported ready with its
 * info (ports, paths). The handle answers `query(type)` and `stop()`.
 */
export function startFixture (name, args = []) {
  const child = fork(FIXTURES + name + '.js', args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  live.add(child)
  let exited = false
  const waiting = new Map()
  let seq = 0
  child.on('exit', (code, signal) => {
    exited = true
    live.delete(child)
    for (const { reject } of waiting.values()) reject(new Error(`fixture ${name} exited (${code ?? signal})`))
    waiting.clear()
  })
  let onReady
  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`fixture ${name} not ready in ${READY_TIMEOUT_MS} ms`)), READY_TIMEOUT_MS)
    onReady = info => { clearTimeout(timer); resolve(info) }
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      reject(new Error(`fixture ${name} exited (${code ?? signal}) before ready`))
    })
  })
  child.on('message', msg => {
    if (msg.ready !== undefined) { onReady(msg.ready); return }
    const entry = waiting.get(msg.seq)
    if (entry === undefined) return
    waiting.delete(msg.seq)
    entry.resolve(msg.value)
  })
  const query = (type, value, timeoutMs = QUERY_TIMEOUT_MS) => new Promise((resolve, reject) => {
    if (exited) { reject(new Error(`fixture ${name} is not running`)); return }
    const id = ++seq
    const timer = setTimeout(() => {
      waiting.delete(id)
      reject(new Error(`fixture ${name}: no answer to ${type} in ${timeoutMs} ms`))
    }, timeoutMs)
    waiting.set(id, {
      resolve: v => { clearTimeout(timer); resolve(v) },
      reject: e => { clearTimeout(timer); reject(e) }
    })
    child.send({ seq: id, type, value })
  })
  const stop = () => new Promise(resolve => {
    if (exited) { resolve(); return }
    const timer = setTimeout(() => { child.kill('SIGKILL') }, STOP_TIMEOUT_MS)
    child.once('exit', () => { clearTimeout(timer); resolve() })
    child.kill('SIGTERM')
  })
  return ready.then(
    info => ({ pid: child.pid, info, query, stop }),
    async err => { await stop(); throw err }
  )
}

/**
 * The child's side: `handlers[type](value)` answers each query; the process exits when its
 * parent goes away or on SIGTERM. Call `reportReady(info)` once listening.
 */
export function serveFixture (handlers) {
  process.on('message', async msg => {
    let value
    try {
      value = await handlers[msg.type](msg.value)
    } catch (err) {
      value = { error: err.message }
    }
    process.send({ seq: msg.seq, value })
  })
  process.on('disconnect', () => process.exit(0))
  process.on('SIGTERM', () => process.exit(0))
}

/** The child tells its parent it listens, with what the parent needs to know (ports, paths). */
export function reportReady (info) {
  process.send({ ready: info })
}
