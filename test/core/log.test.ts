import t from 'tap'
import type { LogLevel } from '../../src/core/config.js'
import { createLogger, silentLogger, type Logger } from '../../src/core/log.js'
import { CoordinatorError } from '../../src/core/errors.js'

/** A logger at `level` writing into an array of raw lines. */
function capture (level: LogLevel): { log: Logger, lines: string[], parsed: () => Array<Record<string, unknown>> } {
  const lines: string[] = []
  const log = createLogger(level, { write: (s: string) => lines.push(s) })
  return { log, lines, parsed: () => lines.map(l => JSON.parse(l) as Record<string, unknown>) }
}

function callAll (log: Logger): void {
  log.debug('d')
  log.info('i')
  log.warn('w')
  log.error('e')
  log.fatal('f')
}

t.test('level filtering: each level writes itself and above', async t => {
  const expected: Record<LogLevel, string[]> = {
    debug: ['debug', 'info', 'warning', 'error', 'fatal'],
    info: ['info', 'warning', 'error', 'fatal'],
    warn: ['warning', 'error', 'fatal'],
    error: ['error', 'fatal'],
    fatal: ['fatal'],
    panic: []
  }
  for (const [level, names] of Object.entries(expected) as Array<[LogLevel, string[]]>) {
    const { log, parsed } = capture(level)
    callAll(log)
    t.strictSame(parsed().map(l => l.level), names, level)
  }
})

t.test('isEnabled follows the level', async t => {
  const { log } = capture('warn')
  t.equal(log.isEnabled('debug'), false)
  t.equal(log.isEnabled('info'), false)
  t.equal(log.isEnabled('warn'), true)
  t.equal(log.isEnabled('error'), true)
  t.equal(log.isEnabled('panic'), true)
})

t.test('a call below the level does not touch its fields', async t => {
  const { log, lines } = capture('error')
  let read = 0
  const fields = { get costly () { read++; return 1 } }
  log.debug('x', fields)
  log.info('x', fields)
  log.warn('x', fields)
  t.equal(read, 0)
  t.equal(lines.length, 0)
  log.error('x', fields)
  t.equal(read, 1)
})

t.test('JSON shape: one object per line, time, level, msg, then fields', async t => {
  const { log, lines, parsed } = capture('debug')
  const before = Date.now()
  log.info('request accepted', { id: 'r1', task: 'CPUInfo', n: 3, ok: true, nested: { a: [1, null] } })
  log.warn('line\nbreak "quoted"')
  t.equal(lines.length, 2)
  for (const line of lines) {
    t.ok(line.endsWith('}\n'), 'ends the line')
    t.equal(line.indexOf('\n'), line.length - 1, 'a single line')
  }
  const [first, second] = parsed()
  t.strictSame(Object.keys(first ?? {}), ['time', 'level', 'msg', 'id', 'task', 'n', 'ok', 'nested'])
  t.match(first, { level: 'info', msg: 'request accepted', id: 'r1', task: 'CPUInfo', n: 3, ok: true, nested: { a: [1, null] } })
  const time = Date.parse(String(first?.time))
  t.ok(time >= before - 1 && time <= Date.now() + 1, 'time is now')
  t.match(String(first?.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, 'ISO time')
  t.equal(second?.level, 'warning', 'warn is written as logrus writes it')
  t.equal(second?.msg, 'line\nbreak "quoted"')
})

t.test('fields named time, level or msg do not overwrite the line', async t => {
  const { log, parsed } = capture('info')
  log.info('m', { time: 'then', level: 'x', msg: 'other' })
  const [line] = parsed()
  t.equal(line?.level, 'info')
  t.equal(line?.msg, 'm')
  t.equal(line?.['fields.time'], 'then')
  t.equal(line?.['fields.level'], 'x')
  t.equal(line?.['fields.msg'], 'other')
})

t.test('an Error field is written as its message and code, no stack', async t => {
  const { log, lines, parsed } = capture('info')
  log.error('failed', { err: new CoordinatorError('ERR_NO_PROVIDERS', 'no providers available for task') })
  log.error('failed', { err: new Error('plain') })
  log.error('failed', { nested: { cause: Object.assign(new Error('deep'), { code: 'ECONNREFUSED' }) } })
  const [coded, plain, nested] = parsed()
  t.equal(coded?.err, 'no providers available for task')
  t.equal(coded?.err_code, 'ERR_NO_PROVIDERS')
  t.equal(plain?.err, 'plain')
  t.notOk('err_code' in (plain ?? {}))
  t.strictSame(nested?.nested, { cause: { message: 'deep', code: 'ECONNREFUSED' } })
  t.notMatch(lines.join(''), /at .*log\.test/, 'no stack trace')
  t.notOk(lines.join('').includes('_stack'))
})

t.test('at debug an Error field also carries its stack', async t => {
  const { log, parsed } = capture('debug')
  log.debug('failed', { err: new Error('boom') })
  const [line] = parsed()
  t.equal(line?.err, 'boom')
  t.match(String(line?.err_stack), /^Error: boom\n\s+at /)
})

t.test('unserialisable fields do not throw and the rest is kept', async t => {
  const { log, parsed } = capture('info')
  const cycle: Record<string, unknown> = { a: 1 }
  cycle.self = cycle
  const throwing = { toJSON () { throw new Error('nope') } }
  const getter = Object.defineProperty({}, 'bad', { enumerable: true, get () { throw new Error('getter') } })
  t.doesNotThrow(() => {
    log.info('odd', {
      cycle,
      big: 2n ** 64n,
      inner: { big: 1n },
      throwing,
      fn: () => 1,
      sym: Symbol('s'),
      undef: undefined,
      after: 'kept'
    })
    log.info('getter', getter)
  })
  const [odd, withGetter] = parsed()
  t.match(odd?.cycle, /^\[unserialisable: .*circular/i)
  t.equal(odd?.big, '18446744073709551616', 'BigInt as its exact digits')
  t.strictSame(odd?.inner, { big: '1' })
  t.equal(odd?.throwing, '[unserialisable: nope]')
  t.notOk('fn' in (odd ?? {}))
  t.notOk('sym' in (odd ?? {}))
  t.notOk('undef' in (odd ?? {}))
  t.equal(odd?.after, 'kept')
  t.equal(withGetter?.bad, '[unserialisable: getter]')
})

t.test('odd inputs from plain JS callers still give a JSON line', async t => {
  const { log, parsed } = capture('debug')
  const untyped = log.info as (msg: unknown, fields?: unknown) => void
  untyped(42)
  untyped('null fields', null)
  // eslint-disable-next-line no-throw-literal
  log.info('thrown string', { v: { toJSON () { throw 'plain string' } } })
  const hostile = { toString () { throw new Error('no') } }
  log.info('thrown hostile', { v: { toJSON () { throw hostile } } })
  log.debug('nested at debug', { wrap: { e: new Error('inner') } })
  const [num, nul, str, hos, deep] = parsed()
  t.equal(num?.msg, '42')
  t.strictSame(Object.keys(nul ?? {}), ['time', 'level', 'msg'])
  t.equal(str?.v, '[unserialisable: plain string]')
  t.equal(hos?.v, '[unserialisable: unknown error]')
  t.match(deep?.wrap, { e: { message: 'inner', stack: /^Error: inner\n/ } })
  t.notOk('code' in ((deep?.wrap as { e?: object } | undefined)?.e ?? {}), 'no code key when the error has none')
})

t.test('a sink that throws does not throw into the caller', async t => {
  const log = createLogger('info', { write () { throw new Error('EPIPE') } })
  t.doesNotThrow(() => log.error('x'))
})

t.test('the default sink is process.stderr', async t => {
  const written: string[] = []
  const original = process.stderr.write
  t.teardown(() => { process.stderr.write = original })
  process.stderr.write = ((s: string) => { written.push(s); return true }) as typeof process.stderr.write
  createLogger('info').info('to stderr', { a: 1 })
  process.stderr.write = original
  t.equal(written.length, 1)
  t.match(JSON.parse(written[0] ?? ''), { level: 'info', msg: 'to stderr', a: 1 })
})

t.test('silentLogger writes nothing and enables nothing', async t => {
  t.doesNotThrow(() => callAll(silentLogger))
  t.equal(silentLogger.isEnabled('panic'), false)
  t.ok(Object.isFrozen(silentLogger))
})
