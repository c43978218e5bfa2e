/**
 * Number formats and a plain-text table for the bench report.
 */

const MIB = 1024 * 1024

/** `12,345` (no decimals). */
export function int (n) {
  return n === null || n === undefined ? '-' : Math.round(n).toLocaleString('en-US')
}

/** Milliseconds with a precision that suits their size: `0.42 ms`, `7.3 ms`, `77 ms`. */
export function ms (n) {
  if (n === null || n === undefined) return '-'
  if (n < 10) return `${n.toFixed(2)} ms`
  if (n < 100) return `${n.toFixed(1)} ms`
  return `${Math.round(n)} ms`
}

/** Bytes as MiB with one decimal. */
export function mib (bytes) {
  return bytes === null || bytes === undefined ? '-' : `${(bytes / MIB).toFixed(1)} MiB`
}

/** A ratio with two decimals and a times sign: `0.16×`. */
export function ratio (n) {
  return n === null || n === undefined ? 'n/a' : `${n.toFixed(2)}×`
}

/** Rows of cells (strings) as aligned columns; the first row is the header. */
export function table (rows) {
  const widths = []
  for (const row of rows) row.forEach((cell, i) => { widths[i] = Math.max(widths[i] ?? 0, cell.length) })
  const line = row => row.map((cell, i) => i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i])).join('  ').trimEnd()
  const out = [line(rows[0]), widths.map(w => '-'.repeat(w)).join('  ')]
  for (const row of rows.slice(1)) out.push(line(row))
  return out.join('\n')
}
