/**
 * Socket path checks: the sun_path length limit, and what sits at a path before we listen on it.
 */
import { connect } from 'node:net'
import { lstat } from 'node:fs/promises'
import { NotASocketError, SocketInUseError, SocketPathTooLongError, connectErrorOf } from './errors.js'

/**
 * Longest socket path in bytes: sun_path holds 108 bytes on Linux, one of them the NUL.
 * (macOS holds 104: keep paths meant for both under that.)
 */
export const MAX_SOCKET_PATH_BYTES = 107

/** Throws ERR_SOCKET_PATH_TOO_LONG when the path does not fit in sun_path. */
export function checkSocketPath (path: string): void {
  const bytes = Buffer.byteLength(path)
  if (bytes > MAX_SOCKET_PATH_BYTES) throw new SocketPathTooLongError(path, bytes, MAX_SOCKET_PATH_BYTES)
}

/** What a connect probe found at a socket path. */
export type ProbeResult = 'live' | 'stale' | 'absent'

/**
 * Connects once to find out whether a live process serves the path. ECONNREFUSED means a
 * leftover socket file; ENOENT means it vanished meanwhile. Other failures reject with a coded error.
 */
export function probeSocket (path: string): Promise<ProbeResult> {
  return new Promise((resolve, reject) => {
    // A unix connect() completes or fails at once (a full backlog is EAGAIN), so no timer is needed.
    const probe = connect({ path })
    probe.once('connect', function probeOnConnect () {
      probe.destroy()
      resolve('live')
    })
    probe.once('error', function probeOnError (err: NodeJS.ErrnoException) {
      probe.destroy()
      if (err.code === 'ECONNREFUSED') resolve('stale')
      else if (err.code === 'ENOENT') resolve('absent')
      // someone accepts on it but its backlog is full: live all the same
      else if (err.code === 'EAGAIN') resolve('live')
      else reject(connectErrorOf(err, path))
    })
  })
}

/**
 * Checks what is at `path` before listening: nothing or a stale socket resolves with whether
 * a stale file is there; a non-socket rejects ERR_NOT_A_SOCKET, a live socket ERR_SOCKET_IN_USE.
 */
export async function checkListenPath (path: string): Promise<'free' | 'stale'> {
  let st
  try {
    st = await lstat(path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'free'
    throw err
  }
  if (!st.isSocket()) throw new NotASocketError(path)
  const found = await probeSocket(path)
  if (found === 'live') throw new SocketInUseError(path)
  return found === 'stale' ? 'stale' : 'free'
}
