import t from 'tap'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { MAX_SOCKET_PATH_BYTES, checkListenPath, checkSocketPath, probeSocket } from '../../src/net/socket-path.js'
import { makeStaleSocket, rawServer, sockDir } from '../fixtures/net-helpers.js'

t.test('checkSocketPath counts bytes against the 107-byte limit', async t => {
  t.equal(MAX_SOCKET_PATH_BYTES, 107)
  t.doesNotThrow(() => checkSocketPath('/' + 'a'.repeat(106)))
  t.throws(() => checkSocketPath('/' + 'a'.repeat(107)), { code: 'ERR_SOCKET_PATH_TOO_LONG' })
  t.throws(() => checkSocketPath('/' + 'ü'.repeat(54)), { code: 'ERR_SOCKET_PATH_TOO_LONG' })
})

t.test('probeSocket tells live, stale and absent apart', async t => {
  const dir = sockDir(t)
  const live = join(dir, 'live.sock')
  await rawServer(t, live, s => s.destroy())
  const stale = join(dir, 'stale.sock')
  await makeStaleSocket(stale)
  t.equal(await probeSocket(live), 'live')
  t.equal(await probeSocket(stale), 'stale')
  t.equal(await probeSocket(join(dir, 'absent.sock')), 'absent')
})

t.test('checkListenPath: free, stale, in use, not a socket', async t => {
  const dir = sockDir(t)
  t.equal(await checkListenPath(join(dir, 'free.sock')), 'free')
  const stale = join(dir, 'stale.sock')
  await makeStaleSocket(stale)
  t.equal(await checkListenPath(stale), 'stale')
  const live = join(dir, 'live.sock')
  await rawServer(t, live, s => s.destroy())
  await t.rejects(checkListenPath(live), { code: 'ERR_SOCKET_IN_USE' })
  const file = join(dir, 'file.sock')
  writeFileSync(file, '')
  await t.rejects(checkListenPath(file), { code: 'ERR_NOT_A_SOCKET' })
})
