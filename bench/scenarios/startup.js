/**
 * Start to ready and idle RSS: the coordinator started `runs` times, each in a fresh
 * socket directory; ready = it logged `coordinator ready` (logged once every listener is
 * up). Idle RSS is read after it has sat idle for a moment.
 */
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
  for (let i = 0; i < runs; i++) {
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
    idleRss: median(idle.filter(v => v !== null)),
    stopMs: median(stopMs),
    exits
  }
}

function median (values) {
  if (values.length === 0) return null
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor((sorted.length - 1) / 2)]
}
