/**
 * A small metrics registry: counters, gauges and histograms with labels, written out in the
 * Prometheus text exposition format (version 0.0.4). No dependency.
 *
 * Hot path: a labelled sample is a child object made once (`family.child({...})`) and kept;
 * recording is a plain number add on it. Label text is built when a child is made, never
 * per increment. Values that already live elsewhere (a map's size, a counts object) are
 * read at scrape time through a `sample` function instead of being copied on every change.
 */

/** Label names to values of one sample. */
export type Labels = Readonly<Record<string, string>>

/** The exposition's content type. */
export const EXPOSITION_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'

/** A coded error of the registry (a wrong name, a family registered twice). */
export class MetricsError extends Error {
  readonly code: string
  constructor (code: string, message: string) {
    super(message)
    this.name = 'MetricsError'
    this.code = code
  }
}

const NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const LABEL_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/

/** A counter sample: only goes up. */
export class CounterChild {
  value = 0
  /** Adds `n` (default 1). */
  inc (n = 1): void {
    this.value += n
  }
}

/** A gauge sample: goes up and down. */
export class GaugeChild {
  value = 0
  /** Sets the value. */
  set (v: number): void {
    this.value = v
  }

  /** Adds `n` (default 1). */
  inc (n = 1): void {
    this.value += n
  }

  /** Subtracts `n` (default 1). */
  dec (n = 1): void {
    this.value -= n
  }
}

/** A histogram sample: counts per bucket (not cumulative until written), sum and count. */
export class HistogramChild {
  readonly bounds: readonly number[]
  readonly counts: number[]
  sum = 0
  count = 0

  constructor (bounds: readonly number[]) {
    this.bounds = bounds
    // One more slot for the observations above the last bound (+Inf).
    this.counts = new Array<number>(bounds.length + 1).fill(0)
  }

  /** Records one observation. */
  observe (v: number): void {
    const bounds = this.bounds
    let i = 0
    while (i < bounds.length && v > (bounds[i] as number)) i++
    this.counts[i] = (this.counts[i] as number) + 1
    this.sum += v
    this.count++
  }
}

type Kind = 'counter' | 'gauge' | 'histogram'

/** One metric family: a name, a help text, a type, and its samples by label set. */
abstract class Family<C> {
  readonly name: string
  readonly help: string
  abstract readonly kind: Kind
  // Label text (`{a="1",b="2"}`, or '' without labels) -> sample, in creation order.
  readonly #children = new Map<string, C>()

  constructor (name: string, help: string) {
    this.name = name
    this.help = help
  }

  /** The sample of this label set, made on first use: call it once and keep the result. */
  child (labels: Labels = {}): C {
    const key = labelText(labels)
    let c = this.#children.get(key)
    if (c === undefined) {
      c = this.make()
      this.#children.set(key, c)
    }
    return c
  }

  /** @internal appends this family's lines to `out`. */
  write (out: string[]): void {
    out.push(`# HELP ${this.name} ${escapeHelp(this.help)}`, `# TYPE ${this.name} ${this.kind}`)
    for (const [labels, c] of this.#children) this.writeSample(out, labels, c)
  }

  protected abstract make (): C
  protected abstract writeSample (out: string[], labels: string, c: C): void
}

/** A counter family. */
export class Counter extends Family<CounterChild> {
  readonly kind = 'counter'
  protected make (): CounterChild { return new CounterChild() }
  protected writeSample (out: string[], labels: string, c: CounterChild): void {
    out.push(`${this.name}${labels} ${formatValue(c.value)}`)
  }
}

/** A gauge family. */
export class Gauge extends Family<GaugeChild> {
  readonly kind = 'gauge'
  protected make (): GaugeChild { return new GaugeChild() }
  protected writeSample (out: string[], labels: string, c: GaugeChild): void {
    out.push(`${this.name}${labels} ${formatValue(c.value)}`)
  }
}

/** A histogram family; every sample shares the family's bucket bounds. */
export class Histogram extends Family<HistogramChild> {
  readonly kind = 'histogram'
  readonly bounds: readonly number[]
  readonly #le: readonly string[]

  constructor (name: string, help: string, bounds: readonly number[]) {
    super(name, help)
    if (bounds.length === 0 || bounds.some((b, i) => !Number.isFinite(b) || (i > 0 && b <= (bounds[i - 1] as number)))) {
      throw new MetricsError('ERR_METRICS_BUCKETS', `${name}: buckets must be finite and increasing`)
    }
    this.bounds = Object.freeze([...bounds])
    this.#le = [...bounds.map(formatValue), '+Inf']
  }

  protected make (): HistogramChild { return new HistogramChild(this.bounds) }
  protected writeSample (out: string[], labels: string, c: HistogramChild): void {
    // `le` goes last inside the braces of the sample's own labels.
    const open = labels === '' ? '{' : `${labels.slice(0, -1)},`
    let cumulative = 0
    for (let i = 0; i < this.#le.length; i++) {
      cumulative += c.counts[i] as number
      out.push(`${this.name}_bucket${open}le="${this.#le[i] as string}"} ${cumulative}`)
    }
    out.push(`${this.name}_sum${labels} ${formatValue(c.sum)}`, `${this.name}_count${labels} ${c.count}`)
  }
}

/** A family with one unlabelled sample whose value is read when scraped. */
class Sampled {
  readonly name: string
  readonly help: string
  readonly kind: 'counter' | 'gauge'
  readonly #read: () => number

  constructor (name: string, help: string, kind: 'counter' | 'gauge', read: () => number) {
    this.name = name
    this.help = help
    this.kind = kind
    this.#read = read
  }

  write (out: string[]): void {
    out.push(`# HELP ${this.name} ${escapeHelp(this.help)}`, `# TYPE ${this.name} ${this.kind}`,
      `${this.name} ${formatValue(this.#read())}`)
  }
}

/** The registered families, written in registration order. */
export class MetricsRegistry {
  readonly #families = new Map<string, { write (out: string[]): void }>()
  readonly #beforeScrape: Array<() => void> = []

  /** A counter family. */
  counter (name: string, help: string): Counter {
    return this.#add(new Counter(checkName(name), help))
  }

  /** A gauge family. */
  gauge (name: string, help: string): Gauge {
    return this.#add(new Gauge(checkName(name), help))
  }

  /** A histogram family with the given upper bucket bounds (ascending; +Inf is implied). */
  histogram (name: string, help: string, bounds: readonly number[]): Histogram {
    return this.#add(new Histogram(checkName(name), help, bounds))
  }

  /** An unlabelled counter whose value `read` gives at scrape time (a running total kept elsewhere). */
  sampledCounter (name: string, help: string, read: () => number): void {
    this.#add(new Sampled(checkName(name), help, 'counter', read))
  }

  /** An unlabelled gauge whose value `read` gives at scrape time. */
  sampledGauge (name: string, help: string, read: () => number): void {
    this.#add(new Sampled(checkName(name), help, 'gauge', read))
  }

  /** Runs `fn` before each scrape (to refresh gauges that several values come from at once). */
  beforeScrape (fn: () => void): void {
    this.#beforeScrape.push(fn)
  }

  /** The exposition text of every family. */
  render (): string {
    for (const fn of this.#beforeScrape) fn()
    const out: string[] = []
    for (const family of this.#families.values()) family.write(out)
    out.push('')
    return out.join('\n')
  }

  #add<F extends { name: string, write (out: string[]): void }> (family: F): F {
    if (this.#families.has(family.name)) {
      throw new MetricsError('ERR_METRICS_DUPLICATE', `metric ${family.name} is already registered`)
    }
    this.#families.set(family.name, family)
    return family
  }
}

function checkName (name: string): string {
  if (!NAME_RE.test(name)) throw new MetricsError('ERR_METRICS_NAME', `invalid metric name ${JSON.stringify(name)}`)
  return name
}

/** `{a="1",b="2"}` in the given order, or '' for no labels. */
function labelText (labels: Labels): string {
  const names = Object.keys(labels)
  if (names.length === 0) return ''
  const parts = names.map(name => {
    if (!LABEL_RE.test(name) || name.startsWith('__') || name === 'le') {
      throw new MetricsError('ERR_METRICS_LABEL', `invalid label name ${JSON.stringify(name)}`)
    }
    return `${name}="${escapeLabelValue(String(labels[name]))}"`
  })
  return `{${parts.join(',')}}`
}

// The format's escapes: in label values backslash, double quote and line feed; in help
// texts backslash and line feed.
function escapeLabelValue (v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
}

function escapeHelp (v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')
}

/** A sample value as the format writes it: `+Inf`, `-Inf`, `NaN`, or the number. */
export function formatValue (v: number): string {
  if (Number.isNaN(v)) return 'NaN'
  if (v === Infinity) return '+Inf'
  if (v === -Infinity) return '-Inf'
  return String(v)
}
