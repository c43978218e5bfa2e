// Frame codec and unix exchange throughput. Run `npm run build` first, then `node bench/frame.js`.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FrameDecoder, encodeFrame } from '../dist/net/frame.js'
import { UnixServer } from '../dist/net/unix-server.js'
import { exchange } from '../dist/net/unix-client.js'

const CHUNK_BYTES = 64 * 1024

function mbps (bytes, ns) {
  return (bytes / (1024 * 1024)) / (Number(ns) / 1e9)
}

// Runs fn(iteration) repeatedly for about `ms`, returns [iterations, elapsed ns].
function timed (ms, fn) {
  const start = process.hrtime.bigint()
  const limit = start + BigInt(ms) * 1_000_000n
  let n = 0
  let now = start
  do {
    fn(n++)
    now = process.hrtime.bigint()
  } while (now < limit)
  return [n, now - start]
}

function payloadOf (size) {
  const json = JSON.stringify({ id: 'bench', task: 'CPUInfo', args: { pad: 'x'.repeat(size) } })
  return Buffer.from(json).subarray(0, size)
}

function benchEncode (label, payload, ms = 700) {
  const [n, ns] = timed(ms, () => { encodeFrame(payload) })
  const bytes = n * (payload.length + 4)
  console.log(`encode ${label}: ${mbps(bytes, ns).toFixed(0)} MB/s (${Math.round(n / (Number(ns) / 1e9))} frames/s)`)
}

function benchDecode (label, chunks, framesPerPass, ms = 700) {
  const bytesPerPass = chunks.reduce((sum, c) => sum + c.length, 0)
  let frames = 0
  const decoder = new FrameDecoder({ maxFrameBytes: 2 * 1024 * 1024, onFrame: () => { frames++ } })
  const [n, ns] = timed(ms, () => { for (const c of chunks) decoder.push(c) })
  if (frames !== n * framesPerPass) throw new Error(`decoded ${frames} frames, expected ${n * framesPerPass}`)
  console.log(`decode ${label}: ${mbps(n * bytesPerPass, ns).toFixed(0)} MB/s (${Math.round(frames / (Number(ns) / 1e9))} frames/s)`)
}

// ~300-byte frames
const small = payloadOf(300)
const smallFrame = encodeFrame(small)
const perChunk = Math.floor(CHUNK_BYTES / smallFrame.length)
const aligned = Buffer.concat(Array.from({ length: perChunk }, () => smallFrame))
const stream = Buffer.concat(Array.from({ length: 1000 }, () => smallFrame))
const split = []
for (let i = 0; i < stream.length; i += CHUNK_BYTES) split.push(stream.subarray(i, i + CHUNK_BYTES))
const tiny = []
for (let i = 0; i < smallFrame.length * 50; i += 100) tiny.push(stream.subarray(i, i + 100))

benchEncode('300 B', small)
benchDecode(`300 B, ${perChunk} whole frames per 64 KiB chunk`, [aligned], perChunk)
benchDecode('300 B, 64 KiB chunks cut anywhere', split, 1000)
benchDecode('300 B, 100 B chunks (every frame split)', tiny, 50)

// 1 MiB frames
const big = Buffer.alloc(1024 * 1024, 0x61)
const bigFrame = encodeFrame(big)
const bigChunks = []
for (let i = 0; i < bigFrame.length; i += CHUNK_BYTES) bigChunks.push(bigFrame.subarray(i, i + CHUNK_BYTES))
benchEncode('1 MiB', big)
benchDecode('1 MiB, one chunk (zero-copy view)', [bigFrame], 1)
benchDecode('1 MiB, 64 KiB chunks', bigChunks, 1)

// exchange() round trips against an echo UnixServer
const dir = mkdtempSync(join(tmpdir(), 'co-bench-'))
const path = join(dir, 'echo.sock')
const server = new UnixServer({ path, handle: async p => p })
await server.listen()
try {
  for (const concurrency of [1, 32]) {
    const deadline = Date.now() + 2000
    let done = 0
    const start = process.hrtime.bigint()
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (Date.now() < deadline) {
        const answer = await exchange(path, small, { timeoutMs: 5000 })
        if (answer.length !== small.length) throw new Error('bad echo')
        done++
      }
    }))
    const s = Number(process.hrtime.bigint() - start) / 1e9
    console.log(`exchange 300 B, concurrency ${concurrency}: ${Math.round(done / s)} round trips/s`)
  }
} finally {
  await server.close()
  rmSync(dir, { recursive: true, force: true })
}
