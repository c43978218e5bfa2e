import t from 'tap'
import { FRAME_HEADER_BYTES, FrameDecoder, MAX_FRAME_BYTES, encodeFrame, writeFrame } from '../../src/net/frame.js'
import { PROVIDER_REQUEST_FRAME_HEX, PROVIDER_RESPONSE_FRAME_HEX } from '../fixtures/net-wire-samples.js'

const REQUEST = Buffer.from(PROVIDER_REQUEST_FRAME_HEX, 'hex')
const RESPONSE = Buffer.from(PROVIDER_RESPONSE_FRAME_HEX, 'hex')
const ZERO = Buffer.from([0, 0, 0, 0])
// request, empty frame, response: decoded payloads must be these, in order
const STREAM = Buffer.concat([REQUEST, ZERO, RESPONSE])
const EXPECTED = [REQUEST.subarray(4), Buffer.alloc(0), RESPONSE.subarray(4)]

function decodeAll (chunks: Buffer[], maxFrameBytes?: number): Buffer[] {
  const out: Buffer[] = []
  const decoder = new FrameDecoder({ ...(maxFrameBytes === undefined ? {} : { maxFrameBytes }), onFrame: p => out.push(p) })
  for (const chunk of chunks) decoder.push(chunk)
  if (decoder.bufferedBytes !== 0 || decoder.midFrame) throw new Error('bytes left over')
  return out
}

// a fresh, unpooled copy, so buffer identity checks are meaningful
function own (bytes: Buffer): Buffer {
  const b = Buffer.alloc(bytes.length)
  bytes.copy(b)
  return b
}

t.test('constants', async t => {
  t.equal(FRAME_HEADER_BYTES, 4)
  t.equal(MAX_FRAME_BYTES, 16 * 1024 * 1024)
})

t.test('encodeFrame writes the Go original\'s bytes', async t => {
  t.same(encodeFrame(REQUEST.subarray(4)), REQUEST)
  t.same(encodeFrame(RESPONSE.subarray(4)), RESPONSE)
  t.same(encodeFrame(Buffer.alloc(0)), ZERO)
  const big = encodeFrame(Buffer.alloc(0x1_02_03, 7))
  t.same(big.subarray(0, 4), Buffer.from([0, 1, 2, 3]))
  t.equal(big.length, 4 + 0x1_02_03)
})

t.test('writeFrame writes one buffer and returns write()\'s result', async t => {
  const writes: Buffer[] = []
  const sink = { write (chunk: Buffer) { writes.push(chunk); return false } }
  t.equal(writeFrame(sink, Buffer.from('hi')), false)
  t.equal(writes.length, 1)
  t.same(writes[0], Buffer.from([0, 0, 0, 2, 0x68, 0x69]))
})

t.test('decodes Go frames fed whole', async t => {
  const frames = decodeAll([own(STREAM)])
  t.same(frames, EXPECTED)
  const first = frames[0]
  t.ok(first)
  t.equal(JSON.parse(String(first)).id, 'cap-a1')
})

t.test('decodes the same bytes split at every offset', async t => {
  for (let i = 0; i <= STREAM.length; i++) {
    const frames = decodeAll([own(STREAM.subarray(0, i)), own(STREAM.subarray(i))])
    if (!t.same(frames, EXPECTED, `split at ${i}`)) break
  }
})

t.test('decodes the same bytes split at every pair of offsets', async t => {
  // covers headers spread over three chunks; step keeps the run short
  for (let i = 0; i <= STREAM.length; i += 3) {
    for (let j = i; j <= STREAM.length; j += 5) {
      const frames = decodeAll([STREAM.subarray(0, i), STREAM.subarray(i, j), STREAM.subarray(j)])
      if (!t.same(frames, EXPECTED, `split at ${i}, ${j}`)) return
    }
  }
})

t.test('decodes the same bytes fed one byte at a time', async t => {
  const chunks: Buffer[] = []
  for (let i = 0; i < STREAM.length; i++) chunks.push(STREAM.subarray(i, i + 1))
  t.same(decodeAll(chunks), EXPECTED)
})

t.test('several frames in one chunk are views of that chunk, not copies', async t => {
  const chunk = own(Buffer.concat([REQUEST, RESPONSE, REQUEST]))
  const frames = decodeAll([chunk])
  t.equal(frames.length, 3)
  let offset = 0
  for (const [i, frame] of frames.entries()) {
    t.equal(frame.buffer, chunk.buffer, `frame ${i} shares the chunk's memory`)
    offset += 4
    t.equal(frame.byteOffset, chunk.byteOffset + offset)
    offset += frame.length
  }
  t.same(frames, [REQUEST.subarray(4), RESPONSE.subarray(4), REQUEST.subarray(4)])
})

t.test('a frame that spans chunks is copied out whole', async t => {
  const a = own(REQUEST.subarray(0, 100))
  const b = own(REQUEST.subarray(100))
  const [frame] = decodeAll([a, b])
  t.ok(frame)
  t.not(frame?.buffer, a.buffer)
  t.not(frame?.buffer, b.buffer)
  t.same(frame, REQUEST.subarray(4))
})

t.test('a zero-length frame is delivered as an empty payload', async t => {
  t.same(decodeAll([ZERO]), [Buffer.alloc(0)])
  t.same(decodeAll([Buffer.concat([ZERO, ZERO, ZERO])]), [Buffer.alloc(0), Buffer.alloc(0), Buffer.alloc(0)])
  t.same(decodeAll([ZERO.subarray(0, 2), ZERO.subarray(2)]), [Buffer.alloc(0)])
})

t.test('bufferedBytes and midFrame report a partial frame', async t => {
  const frames: Buffer[] = []
  const decoder = new FrameDecoder({ onFrame: p => frames.push(p) })
  t.equal(decoder.midFrame, false)
  t.equal(decoder.bufferedBytes, 0)
  decoder.push(RESPONSE.subarray(0, 2))
  t.equal(decoder.midFrame, true, 'half a header')
  t.equal(decoder.bufferedBytes, 2)
  decoder.push(RESPONSE.subarray(2, 10))
  t.equal(decoder.midFrame, true, 'header and part of the body')
  t.equal(decoder.bufferedBytes, 6, 'header bytes are consumed')
  decoder.push(RESPONSE.subarray(10))
  t.equal(decoder.midFrame, false)
  t.equal(decoder.bufferedBytes, 0)
  t.equal(frames.length, 1)
  decoder.push(Buffer.alloc(0))
  t.equal(decoder.midFrame, false, 'an empty chunk changes nothing')
})

t.test('a frame exactly at the limit is accepted', async t => {
  const payload = Buffer.alloc(10, 1)
  t.same(decodeAll([encodeFrame(payload)], 10), [payload])
})

t.test('an over-limit length is refused at the header, before any body arrives', async t => {
  const frames: Buffer[] = []
  const decoder = new FrameDecoder({ maxFrameBytes: 10, onFrame: p => frames.push(p) })
  decoder.push(encodeFrame(Buffer.from('ok')))
  t.throws(() => decoder.push(Buffer.from([0, 0, 0, 11])), { code: 'ERR_FRAME_TOO_LARGE' })
  t.equal(decoder.bufferedBytes, 0, 'nothing kept')
  t.throws(() => decoder.push(encodeFrame(Buffer.from('x'))), { code: 'ERR_FRAME_TOO_LARGE' }, 'stays failed')
  t.same(frames, [Buffer.from('ok')], 'no frame delivered after the failure')
})

t.test('0xFFFFFFFF is refused by the default limit, even split, with both sizes in the message', async t => {
  const decoder = new FrameDecoder({ onFrame: () => t.fail('no frame') })
  decoder.push(Buffer.from([0xff, 0xff]))
  let caught: unknown
  try {
    decoder.push(Buffer.from([0xff, 0xff, 0x7b]))
  } catch (err) {
    caught = err
  }
  t.match(caught, { code: 'ERR_FRAME_TOO_LARGE', name: 'NetError' })
  t.match((caught as Error).message, /4294967295/)
  t.match((caught as Error).message, new RegExp(String(MAX_FRAME_BYTES)))
  t.throws(() => decoder.push(Buffer.from('more')), caught as Error, 'the same error again')
})

t.test('stop() inside onFrame ends decoding: later frames and pushes are ignored', async t => {
  const frames: Buffer[] = []
  const decoder = new FrameDecoder({
    onFrame: p => {
      frames.push(p)
      decoder.stop()
    }
  })
  decoder.push(Buffer.concat([RESPONSE, REQUEST, Buffer.from([0xff, 0xff, 0xff, 0xff])]))
  decoder.push(RESPONSE)
  t.same(frames, [RESPONSE.subarray(4)])
  t.equal(decoder.bufferedBytes, 0)
  t.equal(decoder.midFrame, false)
})

t.test('an exception from onFrame propagates and the decoder stays usable', async t => {
  const frames: Buffer[] = []
  let first = true
  const decoder = new FrameDecoder({
    onFrame: p => {
      if (first) {
        first = false
        throw new Error('boom')
      }
      frames.push(p)
    }
  })
  t.throws(() => decoder.push(Buffer.concat([RESPONSE, REQUEST])), /boom/)
  decoder.push(Buffer.alloc(0))
  decoder.push(ZERO)
  t.same(frames, [REQUEST.subarray(4), Buffer.alloc(0)], 'the rest of the chunk is still decoded')
})
