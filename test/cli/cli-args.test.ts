import t from 'tap'
import { formatUrl } from '../../src/core/go-url.js'
import { DEFAULT_COORDINATOR_URL, DEFAULT_TIMEOUT_S, parseCliArgs, type CliOptions } from '../../src/cli/cli-args.js'
import { buildArgs, coerceArgValue } from '../../src/cli/task-args.js'

function parse (argv: string[]): CliOptions {
  const parsed = parseCliArgs(argv)
  if ('help' in parsed) throw new Error('unexpected help')
  return parsed
}

t.test('defaults, long and short forms, and the last of a repeated flag', async t => {
  const d = parse(['-t', 'X'])
  t.equal(formatUrl(d.coordinatorUrl), DEFAULT_COORDINATOR_URL)
  t.equal(d.task, 'X')
  t.same(d.requestArgs, [])
  t.equal(d.jsonArgs, false)
  t.equal(d.stream, false)
  t.equal(d.httpAddr, undefined)
  t.equal(d.taskUrl, null)
  t.equal(d.timeoutMs, DEFAULT_TIMEOUT_S * 1000)

  const long = parse(['--coordinator_url', 'unix:///run/c.sock', '--task', 'T', '--request_arg', 'a=1', '--json_args',
    '--http_addr', '[::1]:4080', '--task_url', 'http://h:1/x', '--timeout', '1.5'])
  t.equal(formatUrl(long.coordinatorUrl), 'unix:///run/c.sock')
  t.same(long.requestArgs, ['a=1'])
  t.equal(long.jsonArgs, true)
  t.same(long.httpAddr, { host: '::1', port: 4080 })
  t.equal(long.taskUrl === null ? '' : formatUrl(long.taskUrl), 'http://h:1/x')
  t.equal(long.timeoutMs, 1500)

  const short = parse(['-c', 'http://c:8/', '-tT', '-a', 'a=1', '-ab=2', '-a=c=3', '-s', '-r', ':4080', '-u=unix:///s.sock'])
  t.same(short.requestArgs, ['a=1', 'b=2', 'c=3'])
  t.equal(short.stream, true)
  t.same(short.httpAddr, { host: '', port: 4080 })
  t.equal(short.taskUrl?.path, '/s.sock')

  t.equal(parse(['-t', 'A', '--task', 'B', '-t', 'C']).task, 'C', 'the last one wins')
  t.same(parse(['-t', 'X', '-r', 'example.org']).httpAddr, { host: 'example.org', port: 0 })
  t.same(parse(['-t', 'X', '--http_addr=127.0.0.1:0']).httpAddr, { host: '127.0.0.1', port: 0 })
  t.same(parseCliArgs(['-t', 'X', '-h']), { help: true })
  t.same(parseCliArgs(['--help']), { help: true })
})

t.test('usage errors are coded ERR_CLI_USAGE and name the flag', async t => {
  const cases: Array<[string[], RegExp]> = [
    [[], /--task is required/],
    [['-t'], /--task is required/],
    [['--task='], /--task is required/],
    [['-t', 'X', '--bogus'], /unknown flag --bogus/],
    [['-t', 'X', '--tsk'], /unknown flag --tsk \(did you mean '--task'\?\)/],
    [['-t', 'X', '-q'], /unknown flag -q/],
    [['-t', 'X', '-sq'], /unknown flag -q/],
    [['-t', 'X', 'extra'], /unexpected argument 'extra'/],
    [['-t', 'X', '-j', '-s'], /both read stdin/],
    [['-t', 'X', '-js'], /both read stdin/],
    [['-t', 'X', '-c'], /--coordinator_url needs a value|--coordinator_url/],
    [['-t', 'X', '-c', 'ftp://h/'], /--coordinator_url: unsupported URL scheme/],
    [['-t', 'X', '-c', 'no scheme'], /--coordinator_url/],
    [['-t', 'X', '-u', 'mailto:x'], /--task_url/],
    [['-t', 'X', '-r', 'host:port'], /--http_addr: 'host:port' is not host:port/],
    [['-t', 'X', '-r', ':70000'], /--http_addr/],
    [['-t', 'X', '-r', '[::1'], /--http_addr/],
    [['-t', 'X', '--timeout', '0'], /--timeout/],
    [['-t', 'X', '--timeout', '-1'], /--timeout/],
    [['-t', 'X', '--timeout', 'soon'], /--timeout/],
    [['-t', 'X', '--timeout', '99999999'], /--timeout/]
  ]
  for (const [argv, message] of cases) {
    t.throws(() => parseCliArgs(argv), { code: 'ERR_CLI_USAGE', message }, argv.join(' '))
  }
})

t.test('-a values follow Go\'s strconv: int64, then bool, else the text', async t => {
  t.equal(coerceArgValue('42'), 42n)
  t.equal(coerceArgValue('-7'), -7n)
  t.equal(coerceArgValue('+5'), 5n)
  t.equal(coerceArgValue('007'), 7n)
  t.equal(coerceArgValue('9223372036854775807'), 9223372036854775807n)
  t.equal(coerceArgValue('-9223372036854775808'), -9223372036854775808n)
  t.equal(coerceArgValue('9223372036854775808'), '9223372036854775808', 'beyond int64: text')
  t.equal(coerceArgValue('1'), 1n, '1 is an integer before it is a boolean')
  for (const v of ['t', 'T', 'TRUE', 'true', 'True']) t.equal(coerceArgValue(v), true, v)
  for (const v of ['f', 'F', 'FALSE', 'false', 'False']) t.equal(coerceArgValue(v), false, v)
  for (const v of ['yes', 'tRUE', '1.5', '1e3', '0x10', '', ' 1', '1_000']) t.equal(coerceArgValue(v), v, JSON.stringify(v))
})

t.test('buildArgs: nesting, order, overwrites, and the -j base kept byte for byte', async t => {
  const text = (entries: string[], base?: string): string => buildArgs(entries, base === undefined ? undefined : Buffer.from(base)).toString()
  t.equal(text([]), '{}')
  t.equal(text(['b=1', 'a=x', 'b=2']), '{"b":2,"a":"x"}', 'insertion order; a repeated key keeps its place')
  t.equal(text(['a.b.c=1', 'a.b.d=2', 'a.e=true']), '{"a":{"b":{"c":1,"d":2},"e":true}}')
  t.equal(text(['a.b=1', 'a=2']), '{"a":2}', 'a plain value may replace an object')
  t.equal(text(['q="<&>"', 'u=é']), '{"q":"\\"<&>\\"","u":"é"}')
  t.equal(text([], ' {"n": 18446744073709551615}\n'), '{"n": 18446744073709551615}')
  t.equal(text(['o.y=2'], '{"n":1e400,"o":{"x":[1, 2]},"o2":{}}'), '{"n":1e400,"o":{"x":[1, 2],"y":2},"o2":{}}')
  t.equal(text(['k=1'], '{"k":{"deep":true},"k":"last"}'), '{"k":1}', 'a repeated key in the base: the last value')
  t.throws(() => buildArgs(['a=1', 'a.b=2']), { code: 'ERR_CLI_USAGE', message: /'a' is already set and is not an object/ })
  t.throws(() => buildArgs(['o.x.y=1'], Buffer.from('{"o":{"x":[1]}}')), { code: 'ERR_CLI_USAGE', message: /'o\.x' is already set/ })
  t.throws(() => buildArgs(['novalue']), { code: 'ERR_CLI_USAGE', message: /invalid request arg: 'novalue'/ })
  t.throws(() => buildArgs(['=1']), { code: 'ERR_CLI_USAGE' })
  t.throws(() => buildArgs(['a..b=1']), { code: 'ERR_CLI_USAGE' })
  t.throws(() => buildArgs(['a.=1']), { code: 'ERR_CLI_USAGE' })
  t.throws(() => buildArgs([], Buffer.from('[1]')), { code: 'ERR_CLI_USAGE', message: /a JSON array, not an object/ })
  t.throws(() => buildArgs(['a=1'], Buffer.from('"s"')), { code: 'ERR_CLI_USAGE', message: /a JSON string, not an object/ })
  t.throws(() => buildArgs([], Buffer.from('{"a":')), { code: 'ERR_CLI_USAGE', message: /not valid JSON/ })
  t.throws(() => buildArgs([], Buffer.from('')), { code: 'ERR_CLI_USAGE' })
})
