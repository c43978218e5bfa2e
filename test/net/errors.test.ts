import t from 'tap'
import {
  ConnectFailedError, ConnectionClosedError, ConnectionRefusedError, ExchangeTimeoutError, FrameTooLargeError,
  FrameTruncatedError, NetError, NotASocketError, ReadTimeoutError, SocketInUseError, SocketNotFoundError,
  SocketPathTooLongError, connectErrorOf
} from '../../src/net/errors.js'

t.test('every error has its fixed code and is a NetError', async t => {
  const cases: Array<[NetError, string]> = [
    [new FrameTooLargeError(20, 10), 'ERR_FRAME_TOO_LARGE'],
    [new FrameTruncatedError(3), 'ERR_FRAME_TRUNCATED'],
    [new SocketNotFoundError('/x'), 'ERR_SOCKET_NOT_FOUND'],
    [new ConnectionRefusedError('/x'), 'ERR_CONNECTION_REFUSED'],
    [new ConnectFailedError('/x'), 'ERR_CONNECT_FAILED'],
    [new ConnectionClosedError('gone'), 'ERR_CONNECTION_CLOSED'],
    [new ExchangeTimeoutError(5), 'ERR_EXCHANGE_TIMEOUT'],
    [new ReadTimeoutError(5), 'ERR_READ_TIMEOUT'],
    [new SocketInUseError('/x'), 'ERR_SOCKET_IN_USE'],
    [new SocketPathTooLongError('/x', 200, 107), 'ERR_SOCKET_PATH_TOO_LONG'],
    [new NotASocketError('/x'), 'ERR_NOT_A_SOCKET']
  ]
  for (const [err, code] of cases) {
    t.equal(err.code, code)
    t.ok(err instanceof NetError && err instanceof Error, code)
  }
  t.match(new FrameTooLargeError(20, 10).message, /20.*10/)
})

t.test('connectErrorOf maps system codes and keeps the cause', async t => {
  const sys = (code: string): NodeJS.ErrnoException => Object.assign(new Error(code), { code })
  t.match(connectErrorOf(sys('ENOENT'), '/s'), { code: 'ERR_SOCKET_NOT_FOUND', cause: { code: 'ENOENT' } })
  t.match(connectErrorOf(sys('ENOTDIR'), '/s'), { code: 'ERR_SOCKET_NOT_FOUND' })
  t.match(connectErrorOf(sys('ECONNREFUSED'), '/s'), { code: 'ERR_CONNECTION_REFUSED' })
  t.match(connectErrorOf(sys('EACCES'), '/s'), { code: 'ERR_CONNECT_FAILED', message: /EACCES/ })
  t.match(connectErrorOf(sys('EAGAIN'), '/s'), { code: 'ERR_SOCKET_BUSY' })
  t.match(connectErrorOf(sys('ENOTSOCK'), '/s'), { code: 'ERR_CONNECT_FAILED' })
  t.match(connectErrorOf(new Error('odd'), '/s'), { code: 'ERR_CONNECT_FAILED' })
})
