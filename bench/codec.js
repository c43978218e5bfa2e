// Codec hot path: decode + encode of a typical request and of one with a 1 MiB `args`.
// Run after `npm run build`: node bench/codec.js
import { Buffer } from 'node:buffer'
import { decodeRequest, encodeRequest } from '../dist/core/message.js'
import { measure } from './lib/measure.js'

const RUN_MS = 400
const WARMUP_MS = 100

const HOOK = '{"Scheme":"http","Opaque":"","User":null,"Host":"127.0.0.1:14081","Path":"/hook-a1","RawPath":"",' +
  '"OmitHost":false,"ForceQuery":false,"RawQuery":"","Fragment":"","RawFragment":""}'

// wire sample 02a-http-request-sent.json (275 bytes)
const typical = Buffer.from(`{"id":"cap-a1","task":"Capture","taskURL":null,"responseHook":${HOOK},"streamURL":null,"args":{"k":"v"}}`)

function bigArgs (bytes) {
  const items = []
  let size = 0
  for (let k = 0; size < bytes; k++) {
    const item = `{"n":${k},"big":18446744073709551615,"f":${k}.5e3,"name":"item-${k} \\u00e9 caf\u00e9","tags":["a","b\\"c"],"ok":true,"none":null}`
    items.push(item)
    size += item.length + 1
  }
  return '[' + items.join(',') + ']'
}

const large = Buffer.from(`{"id":"big","task":"Capture","taskURL":null,"responseHook":${HOOK},"streamURL":null,"args":${bigArgs(1 << 20)}}`)

function bench (name, input, fn) {
  measure(fn, WARMUP_MS)
  const { ops, seconds } = measure(fn, RUN_MS)
  const perSec = ops / seconds
  const mbPerSec = perSec * input.length / (1024 * 1024)
  console.log(`${name.padEnd(34)} ${perSec.toFixed(0).padStart(9)} ops/s ${mbPerSec.toFixed(1).padStart(8)} MB/s`)
}

// let the JIT settle on every path before measuring anything
measure(() => encodeRequest(decodeRequest(typical), 'go'), 4 * WARMUP_MS)
measure(() => encodeRequest(decodeRequest(large), 'go'), WARMUP_MS)

for (const [label, input] of [[`typical request (${typical.length} B)`, typical], [`request, 1 MiB args (${large.length} B)`, large]]) {
  const decoded = decodeRequest(input)
  if (!encodeRequest(decoded, 'go').equals(input)) throw new Error(`${label}: round trip changed the bytes`)
  bench(`decode+encode ${label}`, input, () => encodeRequest(decodeRequest(input), 'go'))
  bench(`decode ${label}`, input, () => decodeRequest(input))
  bench(`encode ${label}`, input, () => encodeRequest(decoded, 'go'))
}
