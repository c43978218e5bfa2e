/**
 * Length-prefixed frames (u32 big-endian length + JSON) for the bench fixtures and load
 * generators, kept small and cheap on purpose: the bench imports nothing from src.
 */
import { connect } from 'node:net'

const HEADER = 4
// Nothing in the bench sends more than this; a larger length means a broken peer.
const MAX_FRAME = 16 * 1024 * 1024

/** A frame holding `payload` (a string or a Buffer) in one buffer. */
export function frame (payload) {
  const body = typeof payload === 'string' ? Buffer.from(payload) : payload
  const out = Buffer.allocUnsafe(HEADER + body.length)
  out.writeUInt32BE(body.length, 0)
  body.copy(out, HEADER)
  return out
}

/**
 * Calls `onFrame(payload)` for the first frame `socket` sends (one exchange per
 * connection) and `onError(err)` if the socket fails or ends before a whole frame.
 */
export function readOneFrame (socket, onFrame, onError) {
  let chunks = null
  let buffered = 0
  let done = false
  const finish = err => {
    if (done) return
    done = true
    socket.removeListener('data', onData)
    onError(err)
  }
  const onData = chunk => {
    if (chunks === null) {
      // The usual case: the whole frame in the first chunk, no copy.
      if (chunk.length >= HEADER && chunk.length >= HEADER + chunk.readUInt32BE(0)) {
        done = true
        socket.removeListener('data', onData)
        onFrame(chunk.subarray(HEADER, HEADER + chunk.readUInt32BE(0)))
        return
      }
      chunks = []
    }
    chunks.push(chunk)
    buffered += chunk.length
    if (buffered < HEADER) return
    const all = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, buffered)
    chunks = [all]
    const length = all.readUInt32BE(0)
    if (length > MAX_FRAME) { finish(new Error(`frame of ${length} B`)); socket.destroy(); return }
    if (buffered < HEADER + length) return
    done = true
    socket.removeListener('data', onData)
    onFrame(all.subarray(HEADER, HEADER + length))
  }
  socket.on('data', onData)
  socket.on('error', err => finish(err))
  socket.on('end', () => finish(new Error('connection ended before a whole frame')))
  socket.on('close', () => finish(new Error('connection closed before a whole frame')))
}

/**
 * One exchange on the unix socket `path`: connect, write `frameBytes`, read one frame back,
 * close. Calls `cb(err, payload)` exactly once.
 */
export function exchange (path, frameBytes, cb) {
  const socket = connect(path)
  readOneFrame(socket, payload => {
    socket.destroy()
    cb(null, payload)
  }, err => {
    socket.destroy()
    cb(err)
  })
  socket.write(frameBytes)
}

/**
 * The string value of the top-level `"key":"…"` in JSON `text`, found by a scan instead of
 * JSON.parse (fixtures must stay cheap); escaped values fall back to a full parse.
 */
export function scanString (text, key) {
  const marker = `"${key}":"`
  const start = text.indexOf(marker)
  if (start === -1) return undefined
  const from = start + marker.length
  const end = text.indexOf('"', from)
  if (end === -1) return undefined
  const value = text.slice(from, end)
  if (!value.includes('\\')) return value
  try {
    const parsed = JSON.parse(text)[key]
    return typeof parsed === 'string' ? parsed : undefined
  } catch {
    return undefined
  }
}
