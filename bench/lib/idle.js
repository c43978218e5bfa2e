/**
 * How busy the machine is without the bench, and a bounded wait for it to calm down: on a
 * shared machine, other work steals the cores a scenario measures.
 */
import { cpus } from 'node:os'
import { setTimeout as sleep } from 'node:timers/promises'
import { machineBusySeconds } from './proc.js'

const SAMPLE_MS = 1_000
/** Below this share of all CPUs busy, the machine counts as idle. */
export const IDLE_SHARE = 0.1

/** Share of all CPUs busy over `ms` (0 to 1), or null where /proc/stat cannot be read. */
export async function busyShare (ms = SAMPLE_MS) {
  const before = machineBusySeconds()
  await sleep(ms)
  const after = machineBusySeconds()
  return before === null || after === null ? null : Math.min(1, (after - before) / (ms / 1000) / cpus().length)
}

/**
 * Waits until two samples in a row find the machine idle, for at most `maxSeconds`;
 * resolves with the last share measured and the time waited.
 */
export async function waitForIdle (maxSeconds) {
  const startedAt = performance.now()
  let calm = 0
  let share = null
  while (performance.now() - startedAt < maxSeconds * 1000) {
    share = await busyShare()
    if (share === null) break
    calm = share < IDLE_SHARE ? calm + 1 : 0
    if (calm >= 2) break
  }
  return { share, waitedS: (performance.now() - startedAt) / 1000 }
}
