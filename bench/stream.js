/**
 * Stream bench: a 1 GiB stream read directly from its unix source (S0) and through the
 * coordinator's `GET /stream` (S1), in the same run, against the built CLI in its own
 * process. Prints MiB/s of both, and the coordinator's CPU seconds per GiB (utime + stime
 * from /proc/<pid>/stat around the S1 reads) and peak RSS (VmHWM).
 *
 *   npm run build && node bench/stream.js [--gib 1] [--rounds 2] [--profile]
 *
 * --profile runs the coordinator under `node --cpu-prof` and prints where its time went.
 *
 * The source (a unix socket writing the bytes of a random 1 MiB block over and over) and
 * the reader run in this process; both readers read into a reused 1 MiB buffer, S1's over
 * a raw connection whose chunk framing it steps over, so that the reader costs as little
 * per byte as it can; the coordinator is told about the source the way a
 * provider does it: a response with the source as `streamURL`, rewritten to `/stream`.
 * `bench/run.js` runs the same through `runStreamBench()` as its S0/S1 scenarios.
 */
import { randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync } from 'node:fs'
import http from 'node:http'
import { connect, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { removeDir, socketDir, startCoordinator } from './lib/coordinator.js'
import { findProfile, summarizeProfile } from './lib/cpu-profile.js'
import { exchange, frame, readOneFrame, scanString } from './lib/frames.js'
import { mib, ratio, table } from './lib/format.js'
import { cpuSeconds, memory } from './lib/proc.js'

const MIB = 1024 * 1024
const GIB = 1024 * MIB
const HIGH_WATER_MARK = 64 * 1024
// Both readers read into one reused 1 MiB buffer: the reader must cost as little per byte as
// it can, or it, not the coordinator, sets S1's pace (it shares this process with the source).
const READ_BYTES = MIB
const BLOCK = randomBytes(MIB)
const TASK = 'StreamBench'

/** Measures S0 and S1; `{ S0, S1 }` in the shape of the suite's scenarios. */
export async function runStreamBench ({ gib = 1, rounds = 2, nodeArgs = [] } = {}) {
  const total = Math.round(gib * GIB)
  const dir = socketDir()
  const closers = []
  try {
    mkdirSync(join(dir, 'src'))
    const sourcePath = join(dir, 'src', 'bytes.sock')
    closers.push(await listen(sourceServer(total), sourcePath))
    const hook = await startHook()
    closers.push(hook.close)
    mkdirSync(join(dir, TASK))
    closers.push(await listen(providerServer(sourcePath), join(dir, TASK, '1-p.sock')))
    const coordinator = await startCoordinator({ dir, settings: { request_timeout: 3600 }, nodeArgs })
    closers.push(coordinator.stop)

    const streamUrl = await issueStream(coordinator, hook)
    const idleRss = memory(coordinator.pid)?.rss ?? null
    const direct = []
    const proxied = []
    let cpu = 0
    for (let round = 0; round < rounds; round++) {
      direct.push(await timed(() => readUnix(sourcePath), total))
      const before = cpuSeconds(coordinator.pid)
      proxied.push(await timed(() => readHttp(streamUrl), total))
      const after = cpuSeconds(coordinator.pid)
      cpu += before === null || after === null ? NaN : after - before
    }
    const best = runs => Math.max(...runs.map(r => r.rate))
    return {
      S0: { name: 'S0', title: 'direct unix read', unit: 'MiB/s', rate: best(direct), runs: direct },
      S1: {
        name: 'S1',
        title: 'via /stream',
        unit: 'MiB/s',
        rate: best(proxied),
        runs: proxied,
        cpuPerGiB: Number.isNaN(cpu) ? null : cpu / (rounds * total / GIB),
        peakRss: memory(coordinator.pid)?.hwm ?? null,
        idleRss
      }
    }
  } finally {
    while (closers.length > 0) await closers.pop()()
    removeDir(dir)
  }
}

/** Every connection gets `total` bytes, written as fast as the reader takes them. */
function sourceServer (total) {
  return createServer({ highWaterMark: HIGH_WATER_MARK }, socket => {
    let sent = 0
    socket.on('error', () => {})
    const pump = () => {
      while (sent < total) {
        const n = Math.min(BLOCK.length, total - sent)
        sent += n
        if (!socket.write(n === BLOCK.length ? BLOCK : BLOCK.subarray(0, n))) return
      }
      socket.end()
    }
    socket.on('drain', pump)
    pump()
  })
}

/** A provider that acks, then answers the request's hook with the source as `streamURL`. */
function providerServer (sourcePath) {
  const streamURL = JSON.stringify({ Scheme: 'unix', Opaque: '', User: null, Host: '', Path: sourcePath, RawPath: '', OmitHost: false, ForceQuery: false, RawQuery: '', Fragment: '', RawFragment: '' })
  return createServer(socket => {
    socket.on('error', () => {})
    readOneFrame(socket, payload => {
      const request = JSON.parse(payload.toString())
      const id = scanString(payload.toString(), 'id') ?? ''
      socket.end(frame(`{"error":"","id":${JSON.stringify(id)},"result":null,"streamURL":null}`))
      const hook = request.responseHook?.Path
      exchange(hook, frame(`{"id":${JSON.stringify(id)},"result":null,"streamURL":${streamURL},"error":""}`), () => {})
    }, () => {})
  })
}

/** An HTTP hook that hands over the first response delivered to it. */
async function startHook () {
  let deliver
  const delivered = new Promise(resolve => { deliver = resolve })
  const server = http.createServer((req, res) => {
    const chunks = []
    req.on('data', c => chunks.push(c))
    req.on('end', () => {
      res.end('{"error":"","id":"","result":null,"streamURL":null}')
      deliver(JSON.parse(Buffer.concat(chunks).toString()))
    })
  })
  await new Promise(resolve => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${server.address().port}/hook`,
    delivered,
    close: () => new Promise(resolve => { server.closeAllConnections(); server.close(() => resolve()) })
  }
}

/** Sends one request; resolves with the `/stream` URL its response carried, on 127.0.0.1. */
async function issueStream (coordinator, hook) {
  const body = JSON.stringify({ id: 'stream-bench', task: TASK, responseHook: hook.url })
  const ack = await new Promise((resolve, reject) => {
    const req = http.request(coordinator.url, { method: 'POST', headers: { 'Content-Type': 'application/json' } }, res => {
      const chunks = []
      res.on('data', c => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }))
    })
    req.on('error', reject)
    req.end(body)
  })
  if (ack.status !== 200) throw new Error(`request refused: ${ack.status} ${ack.body}`)
  const response = await hook.delivered
  const url = new URL(response.streamURL)
  url.host = `127.0.0.1:${coordinator.port}`
  return url.href
}

function listen (server, path) {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(path, () => resolve(() => new Promise(resolve => server.close(() => resolve()))))
  })
}

async function timed (read, total) {
  const t0 = performance.now()
  const bytes = await read()
  const seconds = (performance.now() - t0) / 1000
  if (bytes !== total) throw new Error(`read ${bytes} bytes, expected ${total}`)
  return { bytes, seconds, rate: bytes / MIB / seconds }
}

/** S0: reads the unix source to its end; resolves with the byte count. */
function readUnix (path) {
  return new Promise((resolve, reject) => {
    let bytes = 0
    const socket = connect({ path, onread: { buffer: Buffer.allocUnsafe(READ_BYTES), callback: n => { bytes += n } } })
    socket.on('end', () => { socket.destroy(); resolve(bytes) })
    socket.on('error', reject)
  })
}

/**
 * S1: GETs the /stream URL over a raw connection read like S0's, and counts the body bytes
 * of its chunked answer, stepping over the framing; resolves at the last chunk.
 */
function readHttp (url) {
  const { hostname, port, pathname, search } = new URL(url)
  return new Promise((resolve, reject) => {
    const body = new ChunkedCounter()
    const socket = connect({
      host: hostname,
      port: Number(port),
      onread: {
        buffer: Buffer.allocUnsafe(READ_BYTES),
        callback: (n, buffer) => {
          try {
            if (body.push(buffer, n)) { socket.destroy(); resolve(body.bytes) }
          } catch (err) {
            socket.destroy()
            reject(err)
          }
        }
      }
    })
    socket.on('connect', () => { socket.write(`GET ${pathname}${search} HTTP/1.1\r\nHost: ${hostname}:${port}\r\n\r\n`) })
    socket.on('end', () => { reject(new Error(`/stream ended after ${body.bytes} body bytes, before its last chunk`)) })
    socket.on('error', reject)
  })
}

/** Counts the body bytes of a chunked HTTP/1.1 answer fed in pieces; checks the framing. */
class ChunkedCounter {
  bytes = 0
  #head = ''            // the answer's head, until its blank line
  #inBody = false
  #line = ''            // a chunk-size line (or a chunk's trailing CRLF), as far as it came
  #left = 0             // data bytes left in the current chunk
  #afterData = false    // a chunk's data is done: its CRLF comes next

  /** Feeds `n` bytes of `buffer`; true once the last chunk (size 0) arrived. */
  push (buffer, n) {
    let at = 0
    if (!this.#inBody) {
      this.#head += buffer.toString('latin1', 0, n)
      const end = this.#head.indexOf('\r\n\r\n')
      if (end === -1) return false
      if (!/^HTTP\/1\.1 200 /.test(this.#head) || !/\r\ntransfer-encoding: chunked\r\n/i.test(this.#head)) {
        throw new Error(`GET /stream answered: ${this.#head.slice(0, this.#head.indexOf('\r\n'))} (not 200 chunked)`)
      }
      at = n - (this.#head.length - end - 4)
      this.#inBody = true
    }
    while (at < n) {
      if (this.#left > 0) {
        const take = Math.min(this.#left, n - at)
        this.#left -= take
        this.bytes += take
        at += take
        if (this.#left === 0) this.#afterData = true
        continue
      }
      const lf = buffer.indexOf(0x0a, at)
      if (lf === -1 || lf >= n) { this.#line += buffer.toString('latin1', at, n); return false }
      const line = this.#line + buffer.toString('latin1', at, lf + 1)
      this.#line = ''
      at = lf + 1
      if (this.#afterData) {
        if (line !== '\r\n') throw new Error('chunk data not followed by CRLF')
        this.#afterData = false
        continue
      }
      const size = parseInt(line, 16)
      if (!/^[0-9a-f]+\r\n$/i.test(line) || Number.isNaN(size)) throw new Error(`bad chunk size line ${JSON.stringify(line)}`)
      if (size === 0) return true
      this.#left = size
    }
    return false
  }
}

async function main () {
  const { values } = parseArgs({ options: { gib: { type: 'string', default: '1' }, rounds: { type: 'string', default: '2' }, profile: { type: 'boolean', default: false } } })
  const gib = Number(values.gib)
  const rounds = Number(values.rounds)
  if (!(gib > 0) || !Number.isInteger(rounds) || rounds < 1) {
    process.stderr.write('usage: node bench/stream.js [--gib <GiB, default 1>] [--rounds <n, default 2>]\n')
    process.exit(2)
  }
  const profileDir = values.profile ? mkdtempSync(join(tmpdir(), 'stream-prof-')) : undefined
  const nodeArgs = profileDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', profileDir]
  const { S0, S1 } = await runStreamBench({ gib, rounds, nodeArgs })
  const rate = r => `${Math.round(r).toLocaleString('en-US')} MiB/s`
  const all = runs => runs.map(r => Math.round(r.rate)).join(', ')
  process.stdout.write(`stream bench: ${gib} GiB per read, best of ${rounds} rounds (node ${process.version})\n\n`)
  process.stdout.write(table([
    ['path', 'MiB/s (best)', 'each round', 'coordinator CPU', 'coordinator RSS'],
    ['S0 direct unix read', rate(S0.rate), all(S0.runs), '-', '-'],
    ['S1 via GET /stream', rate(S1.rate), all(S1.runs), S1.cpuPerGiB === null ? 'n/a' : `${S1.cpuPerGiB.toFixed(2)} s/GiB`, `${mib(S1.idleRss)} idle, ${mib(S1.peakRss)} peak`]
  ]) + '\n\n')
  process.stdout.write(`S1/S0: ${ratio(S1.rate / S0.rate)}${profileDir === undefined ? '' : ' (coordinator under --cpu-prof)'}\n`)
  if (profileDir !== undefined) {
    const file = findProfile(profileDir)
    if (file === undefined) throw new Error(`no .cpuprofile in ${profileDir}`)
    const { functions, areas } = summarizeProfile(file, 15)
    process.stdout.write(`\n${file}\n\n` + table([['top self-time functions', 'self ms', 'share'], ...functions.map(f => [f.name, f.selfMs.toFixed(0), `${(f.share * 100).toFixed(1)}%`])]) + '\n\n')
    process.stdout.write(table([['area', 'self ms', 'share'], ...areas.slice(0, 12).map(a => [a.name, a.selfMs.toFixed(0), `${(a.share * 100).toFixed(1)}%`])]) + '\n')
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main()
