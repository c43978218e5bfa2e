/**
 * What /proc says about one process: CPU time (utime + stime) and memory (VmRSS, VmHWM).
 * Linux only; elsewhere every reading is null and the figures print as n/a.
 */
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'

let clockTicks

/** Clock ticks per second of the utime/stime fields (getconf CLK_TCK, 100 on every Linux we know). */
function ticksPerSecond () {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
    } catch {
      clockTicks = 100
    }
  }
  return clockTicks
}

/** CPU seconds (user + system) that `pid` has used so far, or null if it cannot be read. */
export function cpuSeconds (pid) {
  let stat
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  } catch {
    return null
  }
  // The command name (field 2) is in parentheses and may hold spaces: count fields after it.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // fields[0] is field 3 (state), so utime (14) and stime (15) are at 11 and 12.
  const ticks = Number(fields[11]) + Number(fields[12])
  return Number.isFinite(ticks) ? ticks / ticksPerSecond() : null
}

/** `{ rss, hwm }` in bytes: current and peak resident set size of `pid`, or null. */
export function memory (pid) {
  let status
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8')
  } catch {
    return null
  }
  const kib = name => {
    const m = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)
    return m === null ? null : Number(m[1]) * 1024
  }
  return { rss: kib('VmRSS'), hwm: kib('VmHWM') }
}

/** A CPU stopwatch on `pid`: `stop()` returns the CPU seconds used since the call. */
export function cpuWindow (pid) {
  const before = cpuSeconds(pid)
  return {
    stop () {
      const after = cpuSeconds(pid)
      return before === null || after === null ? null : after - before
    }
  }
}

/** CPU seconds the whole machine has been busy (every CPU, idle and iowait left out), or null. */
export function machineBusySeconds () {
  let stat
  try {
    stat = readFileSync('/proc/stat', 'utf8')
  } catch {
    return null
  }
  // cpu  user nice system idle iowait irq softirq steal guest guest_nice
  const f = stat.slice(0, stat.indexOf('\n')).trim().split(/\s+/).slice(1).map(Number)
  return (f[0] + f[1] + f[2] + f[5] + f[6] + f[7]) / ticksPerSecond()
}

/**
 * A stopwatch on the machine: `stop()` returns the CPU seconds the machine used since the
 * call, how much of it went to each of `processes` (`{ label: pid }`, the bench's own), and
 * the rest: other work on the machine that disturbed the measurement.
 */
export function machineWindow (processes) {
  const entries = Object.entries(processes)
  const startedAt = performance.now()
  const machine = machineBusySeconds()
  const before = entries.map(([, pid]) => cpuSeconds(pid))
  return {
    stop () {
      const elapsedS = (performance.now() - startedAt) / 1000
      const machineNow = machineBusySeconds()
      const after = entries.map(([, pid]) => cpuSeconds(pid))
      if (machine === null || machineNow === null || before.includes(null) || after.includes(null)) return null
      const cpusUsed = {}
      let oursS = 0
      entries.forEach(([label], i) => {
        oursS += after[i] - before[i]
        cpusUsed[label] = (after[i] - before[i]) / elapsedS
      })
      const totalS = machineNow - machine
      return { elapsedS, totalS, oursS, otherS: Math.max(0, totalS - oursS), cpusUsed }
    }
  }
}
