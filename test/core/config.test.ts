import t, { type TAP } from 'tap'
import { buildConfig, CONFIG_KEYS, ConfigError, DEFAULTS, type Config } from '../../src/core/config.js'
import { CoordinatorError } from '../../src/core/errors.js'

const base = { service_name: 'coord' }

/** Asserts that raw is refused with ERR_CONFIG_INVALID and a message naming `key`. */
function refuses (t: Pick<TAP, 'throws'>, raw: Record<string, unknown>, key: string, what: string): void {
  const named = new RegExp(key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
  t.throws(() => buildConfig(raw), { code: 'ERR_CONFIG_INVALID', message: named }, what)
}

t.test('a ConfigError is a coded CoordinatorError', async t => {
  let caught: unknown
  try { buildConfig({}) } catch (err) { caught = err }
  t.type(caught, ConfigError)
  t.type(caught, CoordinatorError)
  t.equal((caught as ConfigError).code, 'ERR_CONFIG_INVALID')
  t.equal((caught as ConfigError).name, 'ConfigError')
})

t.test('every default', async t => {
  const cfg = buildConfig(base)
  const expected: Config = {
    serviceName: 'coord',
    socketDir: '/tmp/cerana',
    externalPort: 8080,
    requestTimeoutMs: 60_000,
    logLevel: 'warn',
    bindAddress: '',
    dispatchTimeoutMs: 5_000,
    hookTimeoutMs: 10_000,
    hookRetries: 3,
    peerUrlForm: 'go',
    drainTimeoutMs: 0,
    streamBaseUrl: '',
    maxBodyBytes: 1024 * 1024,
    maxFrameBytes: 16 * 1024 * 1024,
    headersTimeoutMs: 10_000,
    bodyTimeoutMs: 30_000,
    keepAliveTimeoutMs: 5_000,
    readTimeoutMs: 10_000,
    maxTracked: 100_000,
    maxPendingResponses: 1024,
    maxStreamSockets: 1024,
    streamReadBytes: 256 * 1024,
    socketMode: 0o660,
    providerCacheMs: 1_000,
    authTokenFile: '',
    providerCooldownMs: 2_000
  }
  t.strictSame(cfg, expected)
  t.strictSame({ ...DEFAULTS, serviceName: 'coord' }, expected, 'DEFAULTS holds the same values')
  t.ok(Object.isFrozen(DEFAULTS))
})

t.test('every key is accepted, from strings as flags give them', async t => {
  const cfg = buildConfig({
    service_name: '0123',
    socket_dir: '/run/cerana/',
    external_port: '9090',
    request_timeout: '2.5',
    log_level: 'DEBUG',
    bind_address: '127.0.0.1',
    dispatch_timeout: '0.2',
    hook_timeout: '3',
    hook_retries: '5',
    peer_url_form: 'string',
    drain_timeout: '7',
    stream_base_url: 'https://gw.example.com:8443/coord/',
    max_body_bytes: '2048',
    max_frame_bytes: '4096',
    headers_timeout: '1',
    body_timeout: '2',
    keep_alive_timeout: '4',
    read_timeout: '6',
    max_tracked: '10',
    max_pending_responses: '5',
    max_stream_sockets: '20',
    stream_read_bytes: '65536',
    socket_mode: '0600',
    provider_cache: '0',
    auth_token_file: '/etc/coordinator/token',
    provider_cooldown: '0.5'
  })
  t.strictSame(cfg, {
    serviceName: '0123',
    socketDir: '/run/cerana',
    externalPort: 9090,
    requestTimeoutMs: 2500,
    logLevel: 'debug',
    bindAddress: '127.0.0.1',
    dispatchTimeoutMs: 200,
    hookTimeoutMs: 3000,
    hookRetries: 5,
    peerUrlForm: 'string',
    drainTimeoutMs: 7000,
    streamBaseUrl: 'https://gw.example.com:8443/coord',
    maxBodyBytes: 2048,
    maxFrameBytes: 4096,
    headersTimeoutMs: 1000,
    bodyTimeoutMs: 2000,
    keepAliveTimeoutMs: 4000,
    readTimeoutMs: 6000,
    maxTracked: 10,
    maxPendingResponses: 5,
    maxStreamSockets: 20,
    streamReadBytes: 65536,
    socketMode: 0o600,
    providerCacheMs: 0,
    authTokenFile: '/etc/coordinator/token',
    providerCooldownMs: 500
  })
  t.equal(CONFIG_KEYS.length, 26, 'the test above names every key')
})

t.test('numbers from a JSON file are accepted as numbers', async t => {
  const cfg = buildConfig({ ...base, external_port: 1, request_timeout: 0.2, max_tracked: 1, socket_mode: 0o640 })
  t.equal(cfg.externalPort, 1)
  t.equal(cfg.requestTimeoutMs, 200)
  t.equal(cfg.maxTracked, 1)
  t.equal(cfg.socketMode, 0o640)
  t.equal(buildConfig({ ...base, external_port: 65535 }).externalPort, 65535)
})

t.test('seconds with fractions become whole milliseconds', async t => {
  t.equal(buildConfig({ ...base, request_timeout: '0.2' }).requestTimeoutMs, 200)
  t.equal(buildConfig({ ...base, request_timeout: '.5' }).requestTimeoutMs, 500)
  t.equal(buildConfig({ ...base, request_timeout: '1.1' }).requestTimeoutMs, 1100, 'no float noise')
  t.equal(buildConfig({ ...base, request_timeout: '3.' }).requestTimeoutMs, 3000)
  t.equal(buildConfig({ ...base, hook_timeout: 0.0001 }).hookTimeoutMs, 1, 'a positive duration never rounds to 0')
  t.equal(buildConfig({ ...base, request_timeout: 2147483 }).requestTimeoutMs, 2147483000, 'the longest timer')
})

t.test('request_timeout 0 means 60 s; drain_timeout 0 means no cap', async t => {
  t.equal(buildConfig({ ...base, request_timeout: '0' }).requestTimeoutMs, 60_000)
  t.equal(buildConfig({ ...base, request_timeout: 0 }).requestTimeoutMs, 60_000)
  t.equal(buildConfig({ ...base, drain_timeout: 0 }).drainTimeoutMs, 0)
})

t.test('log_level: every level and warning', async t => {
  const levels: Array<[string, string]> = [
    ['debug', 'debug'], ['info', 'info'], ['warn', 'warn'], ['warning', 'warn'],
    ['error', 'error'], ['fatal', 'fatal'], ['panic', 'panic'], ['Warning', 'warn']
  ]
  for (const [given, stored] of levels) t.equal(buildConfig({ ...base, log_level: given }).logLevel, stored, given)
})

t.test('socket_mode: octal strings and numbers', async t => {
  t.equal(buildConfig({ ...base, socket_mode: '660' }).socketMode, 0o660)
  t.equal(buildConfig({ ...base, socket_mode: '0660' }).socketMode, 0o660)
  t.equal(buildConfig({ ...base, socket_mode: '0o600' }).socketMode, 0o600)
  t.equal(buildConfig({ ...base, socket_mode: '777' }).socketMode, 0o777)
  t.equal(buildConfig({ ...base, socket_mode: '0' }).socketMode, 0)
  t.equal(buildConfig({ ...base, socket_mode: 432 }).socketMode, 0o660, 'a number is the mode itself')
  refuses(t, { ...base, socket_mode: '680' }, 'socket_mode', 'not octal')
  refuses(t, { ...base, socket_mode: '1777' }, 'socket_mode', 'above 0o777')
  refuses(t, { ...base, socket_mode: 660 }, 'socket_mode', 'decimal number 660')
  refuses(t, { ...base, socket_mode: '' }, 'socket_mode', 'empty')
  refuses(t, { ...base, socket_mode: 4.5 }, 'socket_mode', 'fraction')
  refuses(t, { ...base, socket_mode: -1 }, 'socket_mode', 'negative')
  refuses(t, { ...base, socket_mode: true }, 'socket_mode', 'boolean')
})

t.test('service_name is required and must be a file name', async t => {
  refuses(t, {}, 'service_name', 'missing')
  refuses(t, { service_name: '' }, 'service_name', 'empty')
  refuses(t, { service_name: 12 }, 'service_name', 'a number')
  refuses(t, { service_name: null }, 'service_name', 'null')
  refuses(t, { service_name: 'a/b' }, 'service_name', 'a slash')
  refuses(t, { service_name: '..' }, 'service_name', 'dot dot')
  refuses(t, { service_name: 'a\0b' }, 'service_name', 'NUL')
  t.throws(() => buildConfig({}), { code: 'ERR_CONFIG_INVALID', message: 'service_name is required' })
})

t.test('socket_dir must be a non-empty absolute path that fits a socket path', async t => {
  refuses(t, { ...base, socket_dir: '' }, 'socket_dir', 'empty')
  refuses(t, { ...base, socket_dir: 'run/cerana' }, 'socket_dir', 'relative')
  refuses(t, { ...base, socket_dir: ['/tmp'] }, 'socket_dir', 'an array')
  refuses(t, { ...base, socket_dir: '/' + 'd'.repeat(100) }, 'socket_dir', 'too long for sun_path')
  t.equal(buildConfig({ ...base, socket_dir: '/tmp//x/../cerana/' }).socketDir, '/tmp/cerana', 'normalised')
  t.equal(buildConfig({ ...base, socket_dir: '/' }).socketDir, '/')
})

t.test('external_port must be a port', async t => {
  t.throws(() => buildConfig({ ...base, external_port: '0' }), {
    code: 'ERR_CONFIG_INVALID', message: 'external_port: 0 is not a port (1-65535)'
  })
  refuses(t, { ...base, external_port: 0 }, 'external_port', 'zero')
  refuses(t, { ...base, external_port: '65536' }, 'external_port', 'too high')
  refuses(t, { ...base, external_port: '80x' }, 'external_port', 'trailing junk')
  refuses(t, { ...base, external_port: ' 80' }, 'external_port', 'leading space')
  refuses(t, { ...base, external_port: '0x50' }, 'external_port', 'hex')
  refuses(t, { ...base, external_port: '8e3' }, 'external_port', 'exponent')
  refuses(t, { ...base, external_port: '80.5' }, 'external_port', 'fraction string')
  refuses(t, { ...base, external_port: 80.5 }, 'external_port', 'fraction')
  refuses(t, { ...base, external_port: '-80' }, 'external_port', 'negative')
  refuses(t, { ...base, external_port: '' }, 'external_port', 'empty')
  refuses(t, { ...base, external_port: Infinity }, 'external_port', 'infinite')
  refuses(t, { ...base, external_port: NaN }, 'external_port', 'NaN')
  refuses(t, { ...base, external_port: true }, 'external_port', 'boolean')
})

t.test('durations: negative, non-finite, malformed, zero, too long', async t => {
  refuses(t, { ...base, request_timeout: '-1' }, 'request_timeout', 'negative string')
  refuses(t, { ...base, request_timeout: -1 }, 'request_timeout', 'negative number')
  refuses(t, { ...base, request_timeout: Infinity }, 'request_timeout', 'infinite')
  refuses(t, { ...base, request_timeout: 'Infinity' }, 'request_timeout', 'Infinity string')
  refuses(t, { ...base, request_timeout: '1s' }, 'request_timeout', 'unit suffix')
  refuses(t, { ...base, request_timeout: '.' }, 'request_timeout', 'a dot')
  refuses(t, { ...base, request_timeout: 2147484 }, 'request_timeout', 'beyond a timer')
  for (const key of ['dispatch_timeout', 'hook_timeout', 'headers_timeout', 'body_timeout', 'keep_alive_timeout', 'read_timeout']) {
    refuses(t, { ...base, [key]: '0' }, key, `${key} 0`)
    refuses(t, { ...base, [key]: 'x' }, key, `${key} not a number`)
  }
  for (const key of ['drain_timeout', 'provider_cache']) {
    refuses(t, { ...base, [key]: '-0.5' }, key, `${key} negative`)
  }
})

t.test('headers_timeout may not exceed body_timeout', async t => {
  refuses(t, { ...base, headers_timeout: 31 }, 'headers_timeout', 'above the default body_timeout')
  refuses(t, { ...base, body_timeout: 5 }, 'body_timeout', 'below the default headers_timeout')
  t.equal(buildConfig({ ...base, headers_timeout: 5, body_timeout: 5 }).headersTimeoutMs, 5000)
})

t.test('counts are integers in range', async t => {
  refuses(t, { ...base, hook_retries: 0 }, 'hook_retries', 'zero tries')
  refuses(t, { ...base, hook_retries: '1.5' }, 'hook_retries', 'fraction')
  refuses(t, { ...base, max_tracked: 0 }, 'max_tracked', 'zero')
  refuses(t, { ...base, max_pending_responses: 0 }, 'max_pending_responses', 'zero')
  refuses(t, { ...base, max_stream_sockets: '0' }, 'max_stream_sockets', 'zero')
  refuses(t, { ...base, stream_read_bytes: 4095 }, 'stream_read_bytes', 'under a page')
  refuses(t, { ...base, stream_read_bytes: 16 * 1024 * 1024 + 1 }, 'stream_read_bytes', 'over 16 MiB')
  refuses(t, { ...base, max_body_bytes: 0 }, 'max_body_bytes', 'zero')
  refuses(t, { ...base, max_frame_bytes: 2 ** 32 }, 'max_frame_bytes', 'beyond a u32 length')
  t.equal(buildConfig({ ...base, max_frame_bytes: 2 ** 32 - 1 }).maxFrameBytes, 2 ** 32 - 1)
})

t.test('log_level, peer_url_form and bind_address refuse unknown values', async t => {
  let caught: unknown
  try { buildConfig({ ...base, log_level: 'verbose' }) } catch (err) { caught = err }
  t.match(caught, { code: 'ERR_CONFIG_INVALID', message: /log_level.*verbose.*debug, info, warn, warning, error, fatal, panic/ })
  refuses(t, { ...base, log_level: 3 }, 'log_level', 'a number')
  refuses(t, { ...base, peer_url_form: 'Go' }, 'peer_url_form', 'wrong case')
  refuses(t, { ...base, peer_url_form: 'object' }, 'peer_url_form', 'unknown form')
  refuses(t, { ...base, bind_address: '1.2.3.4 ' }, 'bind_address', 'whitespace')
  refuses(t, { ...base, bind_address: 0 }, 'bind_address', 'a number')
})

t.test('stream_base_url must be an absolute http(s) URL without query', async t => {
  t.equal(buildConfig({ ...base, stream_base_url: 'http://10.0.0.1:8080' }).streamBaseUrl, 'http://10.0.0.1:8080')
  t.equal(buildConfig({ ...base, stream_base_url: 'http://h/' }).streamBaseUrl, 'http://h')
  refuses(t, { ...base, stream_base_url: '/stream' }, 'stream_base_url', 'relative')
  refuses(t, { ...base, stream_base_url: 'ftp://h' }, 'stream_base_url', 'ftp')
  refuses(t, { ...base, stream_base_url: 'unix:///tmp/x.sock' }, 'stream_base_url', 'unix')
  refuses(t, { ...base, stream_base_url: 'http://h/?a=1' }, 'stream_base_url', 'query')
  refuses(t, { ...base, stream_base_url: 'http://h/?' }, 'stream_base_url', 'empty query')
  refuses(t, { ...base, stream_base_url: 'http://h/#f' }, 'stream_base_url', 'fragment')
  refuses(t, { ...base, stream_base_url: 'http://u:p@h/' }, 'stream_base_url', 'credentials')
})

t.test('an unknown key is an error, with a hint for a near miss', async t => {
  refuses(t, { ...base, foo: 1 }, "'foo'", 'foo')
  t.throws(() => buildConfig({ ...base, foo: 1 }), { code: 'ERR_CONFIG_INVALID', message: "unknown key 'foo' in config file" })
  t.throws(() => buildConfig({ ...base, socketDir: '/x' }), { code: 'ERR_CONFIG_INVALID', message: /did you mean 'socket_dir'/ })
  t.throws(() => buildConfig({ ...base, request_timout: 1 }), { message: /did you mean 'request_timeout'/ })
  refuses(t, { ...base, config_file: '/x.json' }, 'config_file', 'config_file is not a setting')
  refuses(t, JSON.parse('{"service_name":"a","__proto__":{"x":1}}') as Record<string, unknown>, '__proto__', '__proto__')
})
