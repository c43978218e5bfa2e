import t from 'tap'
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { request, type IncomingMessage, type ServerResponse } from 'node:http'
import { freePort } from '../fixtures/cli.js'
import { DATA, SAMPLES, runCli, sha, startCliTarget } from '../fixtures/coordinator-cli.js'
import { startCoordinator } from '../fixtures/coordinator.js'
import { startHttpServer } from '../fixtures/http-helpers.js'
import { startProvider } from '../fixtures/provider-kit.js'
import { formatUrl } from '../../src/core/go-url.js'
import type { TaskRequest } from '../../src/provider/task-request.js'

// coordinator-cli on the wire: streams both ways, -r, -u, and the request's exact bytes.

t.test('-s: stdin is the request stream, byte for byte, through the coordinator', async t => {
  const { http, unix } = await startCliTarget(t)
  const data = randomBytes(2 * 1024 * 1024 + 5)
  const runs = await Promise.all([
    runCli(t, ['-c', http, '-t', 'Digest', '-s'], { input: data }),
    runCli(t, ['-c', unix, '-t', 'Digest', '--stream'], { input: data })
  ])
  for (const run of runs) {
    t.equal(run.code, 0, run.stderr)
    t.same(JSON.parse(run.stdout.toString()), { bytes: data.length, sha256: sha(data) })
  }
})

t.test('a response stream is written to stdout byte for byte', async t => {
  const { http, unix } = await startCliTarget(t)
  const urls = [http, unix]
  const runs = await Promise.all(urls.map(url => runCli(t, ['-c', url, '-t', 'Data'])))
  urls.forEach((url, i) => {
    t.equal(runs[i]?.code, 0, runs[i]?.stderr ?? '')
    t.equal(runs[i]?.stdout.length, DATA.length)
    t.equal(sha(runs[i]?.stdout ?? Buffer.alloc(0)), sha(DATA), `via ${url}`)
  })
})

t.test('-r and -u unix: the provider gets the request as sent and answers the client directly', async t => {
  const c = await startCoordinator(t)
  const provider = await startProvider(t, c, p => p.task('Hook', (req: TaskRequest) => req.responseHook === null ? null : formatUrl(req.responseHook)))
  const port = await freePort()
  const [run, wildcard] = await Promise.all([
    runCli(t, ['-c', c.url('/'), '-t', 'Hook', '-r', `127.0.0.1:${port}`, '-u', `unix://${provider.taskSocket('Hook')}`]),
    runCli(t, ['-c', c.url('/'), '-t', 'Hook', '--http_addr', ':0', '--task_url', `unix://${provider.taskSocket('Hook')}`])
  ])
  t.equal(run.code, 0, run.stderr)
  t.equal(run.stdout.toString(), `"http://127.0.0.1:${port}/response"\n`)
  t.equal(wildcard.code, 0, wildcard.stderr)
  t.match(wildcard.stdout.toString(), /^"http:\/\/127\.0\.0\.1:\d+\/response"\n$/, 'a wildcard address is called back on loopback')
})

t.test('-u http: the request goes on to another coordinator, and its answer comes back', async t => {
  const front = await startCoordinator(t)
  const back = await startCoordinator(t)
  await startProvider(t, back, p => p.task('Remote', () => 'from the other side'))
  const run = await runCli(t, ['-c', front.url('/'), '-t', 'Remote', '-u', back.url('/')])
  t.equal(run.code, 0, run.stderr)
  t.equal(run.stdout.toString(), '"from the other side"\n')
})

t.test('the request is the original\'s, byte for byte (wire samples 01), and only its own response is taken', async t => {
  const hookPort = await freePort()
  const received: Array<{ body: string, headers: IncomingMessage['headers'] }> = []
  const coordinator = await startHttpServer(t, (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString()
      received.push({ body, headers: req.headers })
      res.writeHead(200, { 'Content-Type': 'application/json' })
      res.end('{"error":"","id":"","result":null,"streamURL":null}')
      const { id } = JSON.parse(body) as { id: string }
      // a stray response first (another id): refused, and the client keeps waiting
      void hookPost(hookPort, '{"error":"","id":"someone-else","result":1,"streamURL":null}').then(status => {
        received.push({ body: `stray answered ${status}`, headers: {} })
        return hookPost(hookPort, `{"error":"","id":${JSON.stringify(id)},"result":{"ok":true},"streamURL":null}`)
      })
    })
  })
  const base = ['-c', `${coordinator.url}/client-req`, '-r', `127.0.0.1:${hookPort}`, '-t', 'CPUInfo', '-a', 'guest_id=abc']
  const cases: Array<[string[], string]> = [
    [base, '01-cli-request-body-CPUInfo.json'],
    [[...base, '-u', 'http://127.0.0.1:9/x'], '01-cli-request-body-with-taskURL.json'],
    [['-c', `${coordinator.url}/client-req`, '-r', `127.0.0.1:${hookPort}`, '-t', 'StreamEcho', '-a', 'foo=bar', '-s'], '01-cli-request-body-StreamEcho-stream.json']
  ]
  for (const [args, sample] of cases) {
    received.length = 0
    const run = await runCli(t, args)
    t.equal(run.code, 0, run.stderr)
    t.equal(run.stdout.toString(), '{"ok":true}\n')
    const sent = received[0]
    const expected = readFileSync(`${SAMPLES}/${sample}`, 'utf8')
      .replace(/"id":"[^"]+"/, `"id":${JSON.stringify(JSON.parse(sent?.body ?? '{}').id)}`)
      .replace(/127\.0\.0\.1:14090/g, `127.0.0.1:${hookPort}`)
    t.equal(sent?.body, expected, sample)
    t.equal(sent?.headers['content-type'], 'application/json')
    t.equal(received[1]?.body, 'stray answered 404')
  }
})

function hookPost (port: number, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/response', method: 'POST', headers: { 'Content-Type': 'application/json' } }, res => {
      res.resume()
      res.on('end', () => { resolve(res.statusCode ?? 0) })
    })
    req.on('error', reject)
    req.end(body)
  })
}
