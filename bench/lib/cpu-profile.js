/**
 * Where a process's time went, from the `.cpuprofile` that `node --cpu-prof` writes at
 * exit: the top functions by self time, and self time by area (coordinator code by file,
 * node internals by module, GC, native).
 */
import { readdirSync, readFileSync } from 'node:fs'
import { basename, join } from 'node:path'

/** The newest `.cpuprofile` in `dir`, or undefined. */
export function findProfile (dir) {
  const files = readdirSync(dir).filter(f => f.endsWith('.cpuprofile')).sort()
  return files.length === 0 ? undefined : join(dir, files[files.length - 1])
}

/**
 * Self time per function and per area of the profile in `file`, and the total (inclusive)
 * time of the coordinator's own functions; idle time left out of the shares.
 */
export function summarizeProfile (file, top = 20) {
  const profile = JSON.parse(readFileSync(file, 'utf8'))
  const nodes = new Map(profile.nodes.map(n => [n.id, n]))
  const parents = new Map()
  for (const n of profile.nodes) for (const child of n.children ?? []) parents.set(child, n.id)
  const selfUs = new Map()
  const { samples, timeDeltas } = profile
  // Sample i stands for the time until sample i+1 (DevTools counts it the same way).
  for (let i = 0; i < samples.length; i++) {
    const dt = i + 1 < timeDeltas.length ? timeDeltas[i + 1] : 0
    selfUs.set(samples[i], (selfUs.get(samples[i]) ?? 0) + Math.max(0, dt))
  }
  const byFunction = new Map()
  const byArea = new Map()
  const inclusive = new Map()
  let busyUs = 0
  let idleUs = 0
  for (const [id, us] of selfUs) {
    const frame = nodes.get(id).callFrame
    if (frame.functionName === '(idle)') { idleUs += us; continue }
    busyUs += us
    const key = functionKey(frame)
    byFunction.set(key, (byFunction.get(key) ?? 0) + us)
    const area = areaOf(frame)
    byArea.set(area, (byArea.get(area) ?? 0) + us)
    // Each coordinator function on the stack once, however deep it recurses.
    const seen = new Set()
    for (let at = id; at !== undefined; at = parents.get(at)) {
      const caller = nodes.get(at).callFrame
      if (!caller.url.includes('/dist/')) continue
      const name = functionKey(caller)
      if (seen.has(name)) continue
      seen.add(name)
      inclusive.set(name, (inclusive.get(name) ?? 0) + us)
    }
  }
  const rank = map => [...map].sort((a, b) => b[1] - a[1]).map(([name, us]) => ({
    name, selfMs: us / 1000, share: busyUs === 0 ? 0 : us / busyUs
  }))
  return {
    file,
    busyMs: busyUs / 1000,
    idleMs: idleUs / 1000,
    functions: rank(byFunction).slice(0, top),
    areas: rank(byArea),
    // Stacks end at each callback the event loop runs: totals are per synchronous stretch.
    coordinatorTotals: rank(inclusive).slice(0, top)
  }
}

function functionKey (frame) {
  const where = frame.url === '' ? '' : ` ${shortUrl(frame.url)}:${frame.lineNumber + 1}`
  return `${frame.functionName || '(anonymous)'}${where}`
}

function shortUrl (url) {
  const dist = url.indexOf('/dist/')
  if (dist !== -1) return url.slice(dist + 1)
  const modules = url.lastIndexOf('/node_modules/')
  if (modules !== -1) return url.slice(modules + 1)
  return url.startsWith('node:') ? url : basename(url)
}

function areaOf (frame) {
  const { url, functionName } = frame
  if (url === '') {
    if (functionName === '(garbage collector)') return 'GC'
    if (functionName === '(program)') return '(program: V8/native, no JS frame)'
    return 'native (C++ bindings and syscalls, V8 builtins)'
  }
  const dist = url.indexOf('/dist/')
  if (dist !== -1) return `coordinator ${url.slice(dist + 1)}`
  if (url.startsWith('node:')) {
    // node:internal/streams/readable -> node streams; node:_http_server -> node http
    const parts = url.slice(5).split('/')
    const name = parts[0] === 'internal' && parts.length > 1 ? parts[1] : parts[0]
    return `node ${name.replace(/\.js$/, '').replace(/^_/, '').split('_')[0]}`
  }
  return shortUrl(url)
}
