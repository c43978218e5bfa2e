import t from 'tap'
import { MetricsRegistry, formatValue } from '../../src/core/metrics.js'
import { parseExposition } from '../fixtures/prometheus.js'

t.test('counters and gauges: HELP, TYPE, one line per label set, in creation order', async t => {
  const r = new MetricsRegistry()
  const c = r.counter('app_requests_total', 'Requests.')
  const ok = c.child({ code: '200' })
  const bad = c.child({ code: '500' })
  ok.inc()
  ok.inc(2)
  bad.inc()
  const g = r.gauge('app_temperature_celsius', 'Temperature.').child()
  g.set(21.5)
  g.dec(0.5)
  g.inc()
  t.equal(r.render(), [
    '# HELP app_requests_total Requests.',
    '# TYPE app_requests_total counter',
    'app_requests_total{code="200"} 3',
    'app_requests_total{code="500"} 1',
    '# HELP app_temperature_celsius Temperature.',
    '# TYPE app_temperature_celsius gauge',
    'app_temperature_celsius 22',
    ''
  ].join('\n'))
  t.equal(c.child({ code: '200' }), ok, 'the same label set gives the same child')
})

t.test('histogram: cumulative buckets with +Inf, sum and count; labels before le', async t => {
  const r = new MetricsRegistry()
  const h = r.histogram('app_latency_seconds', 'Latency.', [0.1, 0.5, 1])
  const get = h.child({ route: 'a' })
  for (const v of [0.05, 0.1, 0.3, 0.7, 2, 3]) get.observe(v)
  const text = r.render()
  t.match(text, 'app_latency_seconds_bucket{route="a",le="0.1"} 2\n', 'an observation on a bound counts in it')
  t.match(text, 'app_latency_seconds_bucket{route="a",le="0.5"} 3\n')
  t.match(text, 'app_latency_seconds_bucket{route="a",le="1"} 4\n')
  t.match(text, 'app_latency_seconds_bucket{route="a",le="+Inf"} 6\n')
  t.match(text, 'app_latency_seconds_count{route="a"} 6\n')
  const parsed = parseExposition(text)
  t.equal(parsed.value('app_latency_seconds_sum', { route: 'a' }), 6.15)
  const plain = r.histogram('app_size_bytes', 'Sizes.', [10]).child()
  plain.observe(11)
  t.match(r.render(), 'app_size_bytes_bucket{le="10"} 0\napp_size_bytes_bucket{le="+Inf"} 1\napp_size_bytes_sum 11\napp_size_bytes_count 1\n')
})

t.test('label values and help texts are escaped as the format says', async t => {
  const r = new MetricsRegistry()
  r.counter('app_odd_total', 'A \\ backslash\nand a line.').child({ v: 'a"b\\c\nd' }).inc()
  const text = r.render()
  t.match(text, '# HELP app_odd_total A \\\\ backslash\\nand a line.\n')
  t.match(text, 'app_odd_total{v="a\\"b\\\\c\\nd"} 1\n')
  const parsed = parseExposition(text)
  t.equal(parsed.families.get('app_odd_total')?.help, 'A \\ backslash\nand a line.')
  t.same(parsed.families.get('app_odd_total')?.samples[0]?.labels, { v: 'a"b\\c\nd' })
})

t.test('sampled metrics read their value at scrape time; beforeScrape runs first', async t => {
  const r = new MetricsRegistry()
  let total = 5
  let size = 2
  r.sampledCounter('app_done_total', 'Done.', () => total)
  r.sampledGauge('app_size', 'Size.', () => size)
  const g = r.gauge('app_refreshed', 'Refreshed.').child()
  let scrapes = 0
  r.beforeScrape(() => { g.set(++scrapes) })
  let parsed = parseExposition(r.render())
  t.equal(parsed.value('app_done_total'), 5)
  t.equal(parsed.value('app_size'), 2)
  t.equal(parsed.value('app_refreshed'), 1)
  total = 9
  size = 0
  parsed = parseExposition(r.render())
  t.equal(parsed.value('app_done_total'), 9)
  t.equal(parsed.value('app_size'), 0)
  t.equal(parsed.value('app_refreshed'), 2)
  t.equal(parsed.families.get('app_done_total')?.type, 'counter')
  t.equal(parsed.families.get('app_size')?.type, 'gauge')
})

t.test('special values', async t => {
  t.equal(formatValue(Infinity), '+Inf')
  t.equal(formatValue(-Infinity), '-Inf')
  t.equal(formatValue(NaN), 'NaN')
  t.equal(formatValue(0.25), '0.25')
  t.equal(formatValue(1e21), '1e+21')
  const r = new MetricsRegistry()
  r.gauge('app_nan', 'NaN.').child().set(NaN)
  t.equal(parseExposition(r.render()).families.get('app_nan')?.samples.length, 1)
})

t.test('a family without samples is still declared', async t => {
  const r = new MetricsRegistry()
  r.counter('app_none_total', 'Nothing yet.')
  t.equal(r.render(), '# HELP app_none_total Nothing yet.\n# TYPE app_none_total counter\n')
})

t.test('refused: bad names, bad labels, twice the same name, bad buckets', async t => {
  const r = new MetricsRegistry()
  t.throws(() => r.counter('9lives', 'x'), { code: 'ERR_METRICS_NAME' })
  t.throws(() => r.gauge('a-b', 'x'), { code: 'ERR_METRICS_NAME' })
  r.counter('app_x_total', 'x')
  t.throws(() => r.gauge('app_x_total', 'x'), { code: 'ERR_METRICS_DUPLICATE' })
  t.throws(() => r.sampledGauge('app_x_total', 'x', () => 1), { code: 'ERR_METRICS_DUPLICATE' })
  const c = r.counter('app_y_total', 'y')
  t.throws(() => c.child({ 'bad-name': 'v' }), { code: 'ERR_METRICS_LABEL' })
  t.throws(() => c.child({ __reserved: 'v' }), { code: 'ERR_METRICS_LABEL' })
  t.throws(() => c.child({ le: '1' }), { code: 'ERR_METRICS_LABEL' })
  t.throws(() => r.histogram('app_h', 'h', []), { code: 'ERR_METRICS_BUCKETS' })
  t.throws(() => r.histogram('app_h', 'h', [1, 1]), { code: 'ERR_METRICS_BUCKETS' })
  t.throws(() => r.histogram('app_h', 'h', [1, Infinity]), { code: 'ERR_METRICS_BUCKETS' })
})

t.test('the test parser refuses what the format does not allow', async t => {
  t.throws(() => parseExposition('x 1'), /line feed/)
  t.throws(() => parseExposition('x 1\n'), /without TYPE/)
  t.throws(() => parseExposition('# TYPE x counter\nx{a="1} 1\n'), /bad labels/)
  t.throws(() => parseExposition('# TYPE x counter\nx one\n'), /bad value/)
  t.throws(() => parseExposition('# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n'), /cumulative/)
  t.throws(() => parseExposition('# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 1\n'), /\+Inf/)
})
