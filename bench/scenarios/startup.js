/**
 * Start to ready and idle RSS: the coordinator started `runs` times, each in a fresh
 * socket directory; ready = it logged `coordinator ready` (logged once every listener is
 * up). Idle RSS is read after it has sat idle for a moment. Each start is paired with a
 * run of `node -e 0` in the same environment: node's own start, the part no code of ours
 * can shorten (on some machines the environment inflates it, e.g. NODE_EXTRA_CA_CERTS).
 */
import { spawn } from 'node:child_process'
import { setTimeout as sleep } from 'node:timers/promises'
import { removeDir, socketDir, startCoordinator } from '../lib/coordinator.js'
import { memory } from '../lib/proc.js'

const IDLE_MS = 1_000

/** Runs the start-up measurement; figures are medians over `runs` starts. */
export async function runStartup ({ runs }) {
  const ready = []
  const idle = []
  const stopMs = []
  const exits = []
  const nodeAlone = []
  for (let i = 0; i < runs; i++) {
    nodeAlone.push(await nodeStartMs())
    const dir = socketDir()
    try {
      const coordinator = await startCoordinator({ dir })
      ready.push(coordinator.readyMs)
      await sleep(IDLE_MS)
      idle.push(memory(coordinator.pid)?.rss ?? null)
      const t0 = performance.now()
      exits.push(await coordinator.stop())
      stopMs.push(performance.now() - t0)
    } finally {
      removeDir(dir)
    }
  }
  return {
    name: 'start',
    title: 'start to ready, idle RSS',
    runs,
    readyMs: median(ready),
    readyMaxMs: Math.max(...ready),
    readySamplesMs: ready,
    nodeAloneMs: median(nodeAlone),
    idleRss: median(idle.filter(v => v !== null)),
    stopMs: median(stopMs),
    exits
  }
}

/** Spawn to exit of `node -e 0`. */
function nodeStartMs () {
  return new Promise((resolve, reject) => {
    const t0 = performance.now()
    const proc = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' })
    proc.on('error', reject)
    proc.on('exit', () => { resolve(performance.now() - t0) })
  })
}

function median (values) {
  if (values.length === 0) return null
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor((sorted.length - 1) / 2)]
}
