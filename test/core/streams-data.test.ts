/**
 * Stream bytes end to end through real coordinators: 64 MiB each way, and both ways across
 * two coordinators (taskURL forwarding and /proxy).
 */
import t, { type Test } from 'tap'
import { createHash, randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import http from 'node:http'
import { connect, type Socket } from 'node:net'
import { join } from 'node:path'
import { startCoordinator, post, goUrl } from '../fixtures/coordinator.js'
import { startFakeProvider } from '../fixtures/fake-provider.js'
import { startHttpHook } from '../fixtures/hook-sink.js'
import { deferred, startHttpServer } from '../fixtures/http-helpers.js'
import { rawServer, writeAll } from '../fixtures/net-helpers.js'
import { unixPathOf } from '../fixtures/wire.js'

const MiB = 1024 * 1024

function sha (b: Buffer): string {
  return createHash('sha256').update(b).digest('hex')
}

interface Digest { sha: string, bytes: number }

/** GETs a URL and hashes its body as it arrives. */
function hashGet (url: string, headers: Record<string, string> = {}): Promise<Digest & { status: number }> {
  return new Promise((resolve, reject) => {
    http.get(url, { headers }, res => {
      const hash = createHash('sha256')
      let bytes = 0
      res.on('data', (c: Buffer) => { hash.update(c); bytes += c.length })
      res.on('end', () => resolve({ sha: hash.digest('hex'), bytes, status: res.statusCode ?? 0 }))
      res.on('error', reject)
    }).on('error', reject)
  })
}

/** Reads a unix socket to its end, hashing. */
function hashUnix (path: string): Promise<Digest> {
  return new Promise((resolve, reject) => {
    const socket: Socket = connect(path)
    const hash = createHash('sha256')
    let bytes = 0
    socket.on('data', (c: Buffer) => { hash.update(c); bytes += c.length })
    socket.on('end', () => { socket.destroy(); resolve({ sha: hash.digest('hex'), bytes }) })
    socket.on('error', reject)
  })
}

/** The `/stream` URL of a delivered streamURL (Go form), on 127.0.0.1. */
function streamGetUrl (streamURL: unknown, port: number): string {
  const u = streamURL as Record<string, string>
  return `http://127.0.0.1:${port}${u.Path}?${u.RawQuery}`
}

t.test('a 64 MiB response stream arrives through /stream with the same SHA-256', async t => {
  const c = await startCoordinator(t)
  const port = c.coordinator.addresses.httpPort
  const data = randomBytes(64 * MiB)
  const sourcePath = join(c.dir, 'out', 'big.sock')
  mkdirSync(join(c.dir, 'out'))
  await rawServer(t, sourcePath, socket => { void writeAll(socket, data).catch(() => {}) })
  const hook = await startHttpHook()
  t.teardown(() => hook.close())
  const provider = await startFakeProvider({
    path: join(c.dir, 'Big', '10-p.sock'),
    reply: () => ({ streamURL: JSON.stringify(goUrl('unix', '', sourcePath)) })
  })
  t.teardown(() => provider.close())

  const answer = await post(c.url('/'), JSON.stringify({ id: 'big-out', task: 'Big', responseHook: goUrl('http', `127.0.0.1:${hook.port}`, '/h') }))
  t.equal(answer.status, 200)
  const [delivered] = await hook.waitFor(1)
  const got = await hashGet(streamGetUrl(delivered?.json.streamURL, port))
  t.equal(got.status, 200)
  t.equal(got.bytes, data.length)
  t.equal(got.sha, sha(data))
  t.equal(c.coordinator.streams.stats.bytes, data.length, 'counted')
  t.equal(c.coordinator.streams.stats.active, 0)
})

t.test('a 64 MiB request stream reaches the provider on its one-shot socket with the same SHA-256', async t => {
  const c = await startCoordinator(t)
  const data = randomBytes(64 * MiB)
  const source = await startHttpServer(t, (_req, res) => {
    res.writeHead(200, { 'Content-Length': data.length })
    void writeAll(res, data).catch(() => {})
  })
  const hashed = deferred<Digest & { path: string }>()
  const provider = await startFakeProvider({
    path: join(c.dir, 'Sink', '10-p.sock'),
    reply: request => {
      const path = unixPathOf(request.streamURL) ?? ''
      hashUnix(path).then(d => hashed.resolve({ ...d, path }), err => hashed.resolve({ sha: String(err), bytes: -1, path }))
      return null
    }
  })
  t.teardown(() => provider.close())

  const answer = await post(c.url('/'), JSON.stringify({ id: 'big-in', task: 'Sink', streamURL: goUrl('http', `127.0.0.1:${source.port}`, '/data') }))
  t.equal(answer.status, 200)
  const got = await hashed.promise
  t.equal(got.path.startsWith(join(c.dir, 'streams') + '/'), true, `one-shot socket under <socket_dir>/streams: ${got.path}`)
  t.equal(got.bytes, data.length)
  t.equal(got.sha, sha(data))
  t.notOk(existsSync(got.path), 'the one-shot socket is gone after use')
  t.equal(c.coordinator.streams.stats.bytes, data.length)
})

for (const auth of [false, true]) {
  t.test(`both ways across two coordinators: taskURL forwarding and /proxy${auth ? ', with a federation token' : ''}`, async t => {
    await bothWays(t, auth)
  })
}

async function bothWays (t: Test, auth: boolean): Promise<void> {
  // With a token, each coordinator's GET of the other's /stream must carry it (else 401).
  const settings: Record<string, unknown> = {}
  let headers: Record<string, string> = {}
  if (auth) {
    const dir = mkdtempSync(join(tmpdir(), 'co-'))
    t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
    settings.auth_token_file = join(dir, 'token')
    writeFileSync(settings.auth_token_file as string, 'stream-secret', { mode: 0o600 })
    headers = { authorization: 'Bearer stream-secret' }
  }
  const local = await startCoordinator(t, settings)
  const remote = await startCoordinator(t, settings)
  const localPort = local.coordinator.addresses.httpPort
  const input = randomBytes(4 * MiB)
  const output = randomBytes(3 * MiB + 7)
  const client = await startHttpServer(t, (_req, res) => { void writeAll(res, input).catch(() => {}) })
  const outPath = join(remote.dir, 'out', 'result.sock')
  mkdirSync(join(remote.dir, 'out'))
  await rawServer(t, outPath, socket => { void writeAll(socket, output).catch(() => {}) })
  const hook = await startHttpHook()
  t.teardown(() => hook.close())
  const inputAtProvider = deferred<Digest>()
  const provider = await startFakeProvider({
    path: join(remote.dir, 'Both', '10-p.sock'),
    reply: request => {
      hashUnix(unixPathOf(request.streamURL) ?? '').then(inputAtProvider.resolve, () => inputAtProvider.resolve({ sha: '', bytes: -1 }))
      return { streamURL: JSON.stringify(goUrl('unix', '', outPath)), delayMs: 50 }
    }
  })
  t.teardown(() => provider.close())

  const answer = await post(local.url('/'), JSON.stringify({
    id: 'fed-both',
    task: 'Both',
    taskURL: goUrl('http', `127.0.0.1:${remote.coordinator.addresses.httpPort}`, '/'),
    responseHook: goUrl('http', `127.0.0.1:${hook.port}`, '/h'),
    streamURL: goUrl('http', `127.0.0.1:${client.port}`, '/input')
  }), { headers })
  t.equal(answer.status, 200, answer.body)
  const atProvider = await inputAtProvider.promise
  t.equal(atProvider.sha, sha(input), 'client -> local /stream -> remote one-shot -> provider')

  const [delivered] = await hook.waitFor(1)
  const streamURL = delivered?.json.streamURL as Record<string, string>
  t.equal(streamURL.Host, `localhost:${localPort}`)
  const got = await hashGet(streamGetUrl(streamURL, localPort), headers)
  t.equal(got.status, 200)
  t.equal(got.sha, sha(output), 'provider socket -> remote /stream -> local /stream -> client')
}

/** GETs `path` over a raw connection and splits its chunked body into its chunks' sizes. */
function rawChunkSizes (port: number, path: string): Promise<{ sizes: number[], body: Buffer }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`)
    })
    const parts: Buffer[] = []
    socket.on('data', (c: Buffer) => parts.push(c))
    socket.on('error', reject)
    socket.on('end', () => {
      const all = Buffer.concat(parts)
      let at = all.indexOf('\r\n\r\n') + 4
      const sizes: number[] = []
      const body: Buffer[] = []
      for (;;) {
        const eol = all.indexOf('\r\n', at)
        const size = parseInt(all.subarray(at, eol).toString(), 16)
        if (size === 0) break
        sizes.push(size)
        body.push(all.subarray(eol + 2, eol + 2 + size))
        at = eol + 2 + size + 2
      }
      resolve({ sizes, body: Buffer.concat(body) })
    })
  })
}

t.test('stream_read_bytes bounds the bytes a /stream reader is sent per read', async t => {
  const c = await startCoordinator(t, { stream_read_bytes: 4096 })
  const data = randomBytes(MiB)
  const sourcePath = join(c.dir, 'out', 'small.sock')
  mkdirSync(join(c.dir, 'out'))
  await rawServer(t, sourcePath, socket => { void writeAll(socket, data).catch(() => {}) })
  const hook = await startHttpHook()
  t.teardown(() => hook.close())
  const provider = await startFakeProvider({
    path: join(c.dir, 'Small', '10-p.sock'),
    reply: () => ({ streamURL: JSON.stringify(goUrl('unix', '', sourcePath)) })
  })
  t.teardown(() => provider.close())
  await post(c.url('/'), JSON.stringify({ id: 'small-reads', task: 'Small', responseHook: goUrl('http', `127.0.0.1:${hook.port}`, '/h') }))
  const [delivered] = await hook.waitFor(1)
  const u = delivered?.json.streamURL as Record<string, string>
  const { sizes, body } = await rawChunkSizes(c.coordinator.addresses.httpPort, `${u.Path}?${u.RawQuery}`)
  t.equal(sha(body), sha(data), 'the whole stream')
  t.ok(Math.max(...sizes) <= 4096, `every chunk at most 4096 B (largest ${Math.max(...sizes)})`)
  t.ok(sizes.length >= MiB / 4096, `${sizes.length} chunks`)
})
