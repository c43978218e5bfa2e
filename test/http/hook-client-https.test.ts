import t from 'tap'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import https from 'node:https'
import net from 'node:net'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { HookClient, type PostOptions } from '../../src/http/hook-client.js'
import { holdOpen, type Teardown } from '../fixtures/http-helpers.js'
import { TLS_CERT, TLS_KEY } from '../fixtures/tls-cert.js'

// https hooks stay on node's https agent; these tests drive that path.

const PAYLOAD = Buffer.from('{"id":"s1","error":"","result":null,"streamURL":null}')

interface Seen { connections: number, requests: Array<{ url: string, headers: Record<string, unknown>, body: string }> }

async function startHttpsServer (t: Teardown, answer: (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => void): Promise<{ url: string, seen: Seen }> {
  const seen: Seen = { connections: 0, requests: [] }
  const server = https.createServer({ key: TLS_KEY, cert: TLS_CERT }, (req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      seen.requests.push({ url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString() })
      answer(req, res)
    })
  })
  server.on('secureConnection', () => { seen.connections++ })
  t.teardown(() => new Promise<void>(resolve => { server.closeAllConnections(); server.close(() => { resolve() }) }))
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return { url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`, seen }
}

// Posts from a child process that trusts the test certificate.
async function postTrusting (t: Teardown, url: string, count: number, opts: PostOptions): Promise<unknown[]> {
  const dir = mkdtempSync(join(tmpdir(), 'co-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  const caFile = join(dir, 'ca.pem')
  writeFileSync(caFile, TLS_CERT)
  const fixture = fileURLToPath(new URL('../fixtures/hook-client-post.ts', import.meta.url))
  const child = spawn(process.execPath, [...process.execArgv.filter(a => a.includes('typescript')), fixture, JSON.stringify({ url, count, opts })], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, NODE_EXTRA_CA_CERTS: caFile }
  })
  const killer = setTimeout(() => child.kill('SIGKILL'), 30_000)
  t.teardown(() => { clearTimeout(killer); child.kill('SIGKILL') })
  let out = ''
  child.stdout.on('data', c => { out += c })
  const [code] = await once(child, 'exit')
  if (code !== 0) throw new Error(`child exited with ${String(code)}: ${out}`)
  return JSON.parse(out) as unknown[]
}

function newClient (t: Teardown): HookClient {
  const client = new HookClient()
  t.teardown(() => { client.close() })
  holdOpen(t)
  return client
}

t.test('https: delivered over TLS on one keep-alive connection, with its headers', async t => {
  const { url, seen } = await startHttpsServer(t, (req, res) => { res.writeHead(201).end(`got ${req.url ?? ''}`) })
  const outcomes = await postTrusting(t, `${url}/hook?x=1`, 3,
    { timeoutMs: 5000, retries: 2, headers: { 'X-Trace': 't1', 'Content-Type': 'text/plain' } })
  t.same(outcomes, [0, 1, 2].map(() => ({ status: 201, body: 'got /hook?x=1', attempts: 1 })))
  t.equal(seen.connections, 1, 'one TLS connection for all posts')
  t.same(seen.requests.map(r => r.body), ['{"n":0}', '{"n":1}', '{"n":2}'])
  t.match(seen.requests[0]?.headers, { 'content-type': 'application/json', 'content-length': '7', 'x-trace': 't1' })
})

t.test('https: a hook that accepts and never answers: ERR_HOOK_TIMEOUT, not retried', async t => {
  const { url, seen } = await startHttpsServer(t, () => {})
  const outcomes = await postTrusting(t, `${url}/h`, 1, { timeoutMs: 200, retries: 3, backoffMs: 10 })
  t.match(outcomes, [{ code: 'ERR_HOOK_TIMEOUT' }])
  t.equal(seen.requests.length, 1)
})

t.test('https: a certificate nobody trusts fails with ERR_HOOK_FAILED, not retried', async t => {
  const { url, seen } = await startHttpsServer(t, (_req, res) => { res.end('ok') })
  const client = newClient(t)
  await t.rejects(client.post(`${url}/h`, PAYLOAD, { timeoutMs: 2000, retries: 3, backoffMs: 10 }),
    { code: 'ERR_HOOK_FAILED', message: /request failed/ })
  t.equal(seen.requests.length, 0)
})

t.test('https: a server that hangs up during the handshake: retried, then ERR_HOOK_UNREACHABLE', async t => {
  let connections = 0
  const server = net.createServer(s => { connections++; s.on('error', () => {}); s.once('data', () => { s.destroy() }) })
  t.teardown(() => { server.close() })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const client = newClient(t)
  await t.rejects(client.post(`https://127.0.0.1:${(server.address() as AddressInfo).port}/h`, PAYLOAD, { timeoutMs: 2000, retries: 3, backoffMs: 10 }),
    { code: 'ERR_HOOK_UNREACHABLE', attempts: 3 })
  t.equal(connections, 3)
})

t.test('https: an invalid header fails with ERR_HOOK_FAILED before any connection', async t => {
  const client = newClient(t)
  await t.rejects(client.post('https://127.0.0.1:1/h', PAYLOAD, { timeoutMs: 100, retries: 3, headers: { 'x-bad': 'a\r\nb' } }),
    { code: 'ERR_HOOK_FAILED', message: /invalid request/ })
  await t.rejects(client.post('https://127.0.0.1:1/h', PAYLOAD, { timeoutMs: 100, retries: 3, headers: { Host: 'elsewhere' } }),
    { code: 'ERR_HOOK_FAILED', message: /invalid request/ })
})
