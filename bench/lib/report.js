/**
 * The bench report: one table of the scenarios, the ratios measured in the same run, and
 * the figures next to the issue's targets and the Go original's measurements.
 */
import { int, mib, ms, ratio, table } from './format.js'

const MIB = 1024 * 1024

const us = n => n === null || n === undefined ? '-' : `${Math.round(n)} µs`
const sPerGiB = n => n === null || n === undefined ? '-' : `${n.toFixed(2)} s`
const count = n => n === null || n === undefined ? '-' : int(n)
const plain = n => n === null || n === undefined ? '-' : String(n)

/** Targets of issue 6 (checked, not asserted) and what the original does on this kind of machine. */
const TARGETS = [
  { label: 'R1 rate', get: r => r.R1?.rate, fmt: n => `${int(n)} req/s`, original: 2500 },
  { label: 'R1 coordinator CPU per request', get: r => r.R1?.cpuPerOpUs, fmt: us, max: 150, original: 406 },
  { label: 'R1 ack p99, 64 connections', get: r => r.R1?.ack?.p99, fmt: ms, max: 20, original: 77 },
  { label: 'R1 lost responses', get: r => r.R1?.lost, fmt: plain, max: 0 },
  { label: 'R1 peak RSS', get: r => r.R1?.peakRss, fmt: mib, max: 90 * MIB, original: 25 * MIB },
  { label: 'R1/B0', get: r => r.ratios.R1_B0, fmt: ratio, original: 2500 / 29000 },
  { label: 'R2 rate', get: r => r.R2?.rate, fmt: n => `${int(n)} req/s`, original: 5200 },
  { label: 'R2 coordinator CPU per request', get: r => r.R2?.cpuPerOpUs, fmt: us, max: 70, original: 142 },
  { label: 'R2 lost responses', get: r => r.R2?.lost, fmt: plain, max: 0 },
  { label: 'S1 rate', get: r => r.S1?.rate, fmt: n => `${int(n)} MiB/s`, original: 850 },
  { label: 'S1/S0', get: r => r.ratios.S1_S0, fmt: ratio, min: 0.5, original: 0.16 },
  { label: 'S1 coordinator CPU per GiB', get: r => r.S1?.cpuPerGiB, fmt: sPerGiB, max: 0.35, original: 0.84 },
  { label: 'S1 peak RSS', get: r => r.S1?.peakRss, fmt: mib, max: 80 * MIB, original: 8 * MIB },
  { label: 'start to ready (median)', get: r => r.start?.readyMs, fmt: ms, max: 250 },
  { label: 'idle RSS', get: r => r.start?.idleRss, fmt: mib, max: 55 * MIB },
  { label: 'B0 rate (ceiling)', get: r => r.B0?.rate, fmt: n => `${int(n)} req/s`, original: 29000 },
  { label: 'B0 server CPU per request', get: r => r.B0?.cpuPerOpUs, fmt: us, original: 34 }
]

/** R1/B0 and S1/S0 from the scenarios of one run (null when either side is missing). */
export function ratiosOf (scenarios) {
  const div = (a, b) => typeof a === 'number' && typeof b === 'number' && b > 0 ? a / b : null
  return {
    R1_B0: div(scenarios.R1?.rate, scenarios.B0?.rate),
    R2_B0: div(scenarios.R2?.rate, scenarios.B0?.rate),
    S1_S0: div(scenarios.S1?.rate, scenarios.S0?.rate)
  }
}

/** Each target with the measured value and whether it is met ('ok', 'MISS', 'n/a' or '' when none). */
export function checkTargets (scenarios, ratios) {
  const r = { ...scenarios, ratios }
  return TARGETS.map(t => {
    const value = t.get(r) ?? null
    let status = ''
    if (t.max !== undefined || t.min !== undefined) {
      if (value === null) status = 'n/a'
      else status = (t.max === undefined || value <= t.max) && (t.min === undefined || value >= t.min) ? 'ok' : 'MISS'
    }
    return {
      label: t.label,
      value,
      shown: value === null ? 'n/a' : t.fmt(value),
      target: t.max !== undefined ? `≤ ${t.fmt(t.max)}` : t.min !== undefined ? `≥ ${t.fmt(t.min)}` : '',
      original: t.original === undefined ? '' : t.fmt(t.original),
      status
    }
  })
}

/** The printed report. */
export function renderReport ({ meta, scenarios, ratios, targets }) {
  const rows = [['scenario', 'rate', 'ack p50', 'ack p99', 'acked', 'delivered', 'lost', 'refused+err', 'coordinator CPU', 'peak RSS']]
  for (const name of ['B0', 'R1', 'R2', 'S0', 'S1']) {
    const s = scenarios[name]
    if (s === undefined) continue
    const label = `${name} ${s.title}`
    if (s.skipped !== undefined || s.failed !== undefined) {
      rows.push([label, 'n/a', '', '', '', '', '', '', '', ''])
      continue
    }
    const cpu = s.unit === 'MiB/s'
      ? (s.cpuPerGiB === undefined ? '-' : `${sPerGiB(s.cpuPerGiB)}/GiB`)
      : `${us(s.cpuPerOpUs)}/req${name === 'B0' ? ' (server)' : ''}`
    rows.push([
      label,
      s.unit === 'MiB/s' ? `${int(s.rate)} MiB/s` : `${int(s.rate)} req/s`,
      ms(s.ack?.p50), ms(s.ack?.p99),
      count(s.acked), count(s.delivered), count(s.lost),
      s.refused === undefined ? '-' : count((s.refused ?? 0) + (s.errors ?? 0)),
      cpu,
      mib(s.peakRss)
    ])
  }
  const out = []
  const busy = meta.busyShareBefore === null ? 'n/a' : `${(meta.busyShareBefore * 100).toFixed(0)}%`
  out.push(`coordinator bench: node ${meta.node}, ${meta.cpus} CPUs (${busy} busy before the run, load average ${meta.loadBefore.map(n => n.toFixed(2)).join(' ')})`)
  out.push(`load: ${meta.options.connections} connections, ${meta.options.seconds} s measured after ${meta.options.warmupSeconds} s of warm-up; a fresh coordinator per scenario and round; least disturbed of ${meta.options.rounds} rounds shown`)
  if (meta.options.nodeArgs.length > 0) out.push(`coordinator started as: node ${meta.options.nodeArgs.join(' ')} dist/cli/coordinator.js ...`)
  out.push('')
  out.push(table(rows))
  out.push('')
  out.push(`ratios (same run): R1/B0 ${ratio(ratios.R1_B0)}   R2/B0 ${ratio(ratios.R2_B0)}   S1/S0 ${ratio(ratios.S1_S0)}`)
  const start = scenarios.start
  if (start !== undefined && start.failed === undefined) {
    out.push(`start to ready: ${ms(start.readyMs)} median of ${start.runs} (max ${ms(start.readyMaxMs)}), of which node's own start (\`node -e 0\`, same runs) ${ms(start.nodeAloneMs)}; idle RSS ${mib(start.idleRss)}; stop ${ms(start.stopMs)}`)
  }
  for (const [name, s] of Object.entries(scenarios)) {
    if (s.skipped !== undefined) out.push(`${name}: n/a (${s.skipped})`)
    if (s.failed !== undefined) out.push(`${name}: FAILED (${s.failed})`)
    for (const note of notesOf(s)) out.push(`${name}: ${note}`)
  }
  out.push('')
  out.push(table([['figure', 'measured', 'target', 'Go original', ''],
    ...targets.map(t => [t.label, t.shown, t.target, t.original, t.status])]))
  if (meta.busy) out.push(`\nWARNING: the machine was busy before the run (${busy} of ${meta.cpus} CPUs): the figures are not comparable.`)
  return out.join('\n')
}

/** Anything a reader of the table must know: losses, errors, a coordinator that did not exit 0. */
function notesOf (s) {
  const notes = []
  if (s.rounds?.length > 1) {
    notes.push(`rounds: ${s.rounds.map(r => r.failed !== undefined ? 'failed' : `${int(r.rate)} req/s ${us(r.cpuPerOpUs)}/req`).join(' | ')}`)
  }
  if (s.lostSample?.length > 0) notes.push(`lost ids, first ones: ${s.lostSample.join(', ')}`)
  if (s.duplicates > 0) notes.push(`${s.duplicates} responses delivered twice`)
  if (s.deliveredWithError > 0) notes.push(`${s.deliveredWithError} deliveries carried an error, first: ${s.firstDeliveredError}`)
  if (s.refusals !== undefined && Object.keys(s.refusals).length > 0) notes.push(`refusals: ${JSON.stringify(s.refusals)}`)
  if (s.errors > 0) notes.push(`${s.errors} client errors/timeouts${s.firstClientError ? `, first: ${s.firstClientError}` : ''}`)
  if (s.providerResponseErrors > 0) notes.push(`provider could not answer ${s.providerResponseErrors} times: ${s.providerLastResponseError}`)
  if (s.providerBacklogRetries > 0) {
    notes.push(`provider retried ${s.providerBacklogRetries} connects to the hook on a full accept backlog (EAGAIN); Go's net.Dial fails on it, so a provider that does not retry would have lost those responses`)
  }
  if (s.machine?.cpusUsed !== undefined) {
    notes.push(`CPUs used in the window: ${Object.entries(s.machine.cpusUsed).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ')}, other processes ${(s.machine.otherS / s.machine.elapsedS).toFixed(2)}`)
  }
  if (s.machine?.otherS / s.machine?.elapsedS > 0.1) {
    notes.push(`other processes used ${(s.machine.otherS / s.machine.elapsedS).toFixed(2)} CPUs during the window: figures disturbed`)
  }
  if (s.exit !== undefined && s.exit !== 0) notes.push(`coordinator exit: ${s.exit}`)
  if (s.logNotable?.length > 0) notes.push(`coordinator logged ${s.logNotable.length}+ warnings/errors, first: ${s.logNotable[0]}`)
  return notes
}
