import t from 'tap'
import { freePort } from '../fixtures/cli.js'
import { runCli, startCliTarget } from '../fixtures/coordinator-cli.js'
import { startHttpServer } from '../fixtures/http-helpers.js'

// The streams, -r, -u and the exact request bytes are in coordinator-cli-wire.test.ts.

t.test('--help prints the usage and exits 0', async t => {
  const runs = await Promise.all(['--help', '-h'].map(flag => runCli(t, [flag])))
  for (const run of runs) {
    t.equal(run.code, 0)
    for (const name of ['--coordinator_url', '--task', '--request_arg', '--json_args', '--stream', '--http_addr', '--task_url', '--timeout']) {
      t.match(run.stdout.toString(), name)
    }
  }
})

t.test('usage errors exit 2 with a message, before anything is sent', async t => {
  // every usage error is covered in-process by cli-args.test.ts; here: the exit status path
  const posts: string[] = []
  const capture = await startHttpServer(t, (req, res) => { posts.push(req.url ?? ''); res.end('{}') })
  const c = ['-c', capture.url]
  const cases: Array<[string[], RegExp, string?]> = [
    [[...c], /--task is required/],
    [[...c, '-t', 'X', '--tsk', 'Y'], /unknown flag --tsk \(did you mean '--task'\?\)/],
    [[...c, '-t', 'X', '-a', 'a=1', '-a', 'a.b=2'], /'a' is already set and is not an object/],
    [[...c, '-t', 'X', '-j'], /stdin holds a JSON array, not an object/, '[1]'],
    [['-c', 'ftp://host/', '-t', 'X'], /--coordinator_url: unsupported URL scheme/]
  ]
  const runs = await Promise.all(cases.map(([args, , input]) => runCli(t, args, input === undefined ? {} : { input })))
  cases.forEach(([args, message], i) => {
    const run = runs[i]
    t.equal(run?.code, 2, `exit 2: ${args.join(' ')}`)
    t.match(run?.stderr, new RegExp(`^coordinator-cli: .*${message.source}.*\nTry 'coordinator-cli --help'\.\n$`))
    t.equal(run?.stdout.length, 0)
  })
  t.same(posts, [], 'nothing was sent')
})

t.test('a result over HTTP and over the unix socket, printed as the provider sent it', async t => {
  const { http, unix } = await startCliTarget(t)
  const urls = [http, unix, http.replace('127.0.0.1', 'localhost')]
  const runs = await Promise.all(urls.map(url => runCli(t, ['-c', url, '-t', 'Exact'])))
  urls.forEach((url, i) => {
    t.equal(runs[i]?.code, 0, runs[i]?.stderr ?? '')
    t.equal(runs[i]?.stdout.toString(), '{"n":18446744073709551615,"s":"é<&>"}\n', `via ${url}`)
    t.equal(runs[i]?.stderr, '')
  })
})

t.test('-a: every form, nested by dotted keys, typed as the original types them', async t => {
  const { http } = await startCliTarget(t)
  const none = runCli(t, ['-c', http, '-t', 'Echo'])
  const run = await runCli(t, ['--coordinator_url', http, '--task', 'Echo',
    '-a', 's=text', '-a', 'i=42', '-a', 'neg=-7', '-a', 'plus=+5', '-a', 'zeros=007',
    '-a', 'max=9223372036854775807', '-a', 'over=9223372036854775808', '-a', 'float=1.5',
    '-a', 't=true', '-a', 'T=T', '-a', 'f=False', '-a', 'one=1', '-a', 'yes=yes',
    '-a', 'eq=a=b', '-a', 'empty=', '-a', 'n.a.b=1', '-a', 'n.a.c=x', '-a', 'n.d=false',
    '-a', 'dup=1', '-a', 'dup=2', '--request_arg', 'long=1', '-ashort=2', '-a=eqform=3'])
  t.equal(run.code, 0, run.stderr)
  t.equal(run.stdout.toString(), '{"s":"text","i":42,"neg":-7,"plus":5,"zeros":7,' +
    '"max":9223372036854775807,"over":"9223372036854775808","float":"1.5",' +
    '"t":true,"T":true,"f":false,"one":1,"yes":"yes","eq":"a=b","empty":"",' +
    '"n":{"a":{"b":1,"c":"x"},"d":false},"dup":2,"long":1,"short":2,"eqform":3}\n')
  t.equal((await none).stdout.toString(), '{}\n', 'no -a: an empty object, as the original sends')
})

t.test('-j: the args object from stdin, verbatim, and with -a set on top of it', async t => {
  const { http } = await startCliTarget(t)
  const input = '  { "big": 18446744073709551615, "keep": {"x": [1, 2]} }\n'
  const [plain, merged] = await Promise.all([
    runCli(t, ['-c', http, '-t', 'Echo', '-j'], { input }),
    runCli(t, ['-c', http, '-t', 'Echo', '--json_args', '-a', 'keep.y=true', '-a', 'new=1'], { input })
  ])
  t.equal(plain.code, 0, plain.stderr)
  t.equal(plain.stdout.toString(), '{ "big": 18446744073709551615, "keep": {"x": [1, 2]} }\n')
  t.equal(merged.code, 0, merged.stderr)
  t.equal(merged.stdout.toString(), '{"big":18446744073709551615,"keep":{"x":[1, 2],"y":true},"new":1}\n')
})

t.test('failures: an error response, a refused request, an unreachable coordinator, a timeout', async t => {
  const { http } = await startCliTarget(t)
  const port = await freePort()
  const [failed, refused, unreachable, noSocket, slow] = await Promise.all([
    runCli(t, ['-c', http, '-t', 'Fails']),
    runCli(t, ['-c', http, '-t', 'NoSuchTask']),
    runCli(t, ['-c', `http://127.0.0.1:${port}/`, '-t', 'Echo', '--timeout', '2']),
    runCli(t, ['-c', 'unix:///tmp/co-no-such-dir/x.sock', '-t', 'Echo']),
    runCli(t, ['-c', http, '-t', 'Never', '--timeout', '0.3'])
  ])
  t.equal(failed.code, 1)
  t.equal(failed.stderr, 'coordinator-cli: response error: cli-test Fails: missing guest_id\n')
  t.equal(failed.stdout.length, 0)
  t.equal(refused.code, 1)
  t.equal(refused.stderr, 'coordinator-cli: request refused: no providers available for task\n')
  t.equal(unreachable.code, 1)
  t.match(unreachable.stderr, /^coordinator-cli: cannot send the request to http:\/\/127\.0\.0\.1:\d+\/: .*ECONNREFUSED/)
  t.equal(noSocket.code, 1)
  t.match(noSocket.stderr, /no socket at \/tmp\/co-no-such-dir\/x\.sock/)
  t.equal(slow.code, 1)
  t.equal(slow.stderr, 'coordinator-cli: no response within 0.3 s\n')
})
