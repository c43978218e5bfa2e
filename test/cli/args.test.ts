import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t, { type TAP } from 'tap'
import { loadConfig, USAGE, type CliRequest } from '../../src/cli/args.js'
import { CONFIG_KEYS, type Config } from '../../src/core/config.js'

function configOf (req: CliRequest): Config {
  if (req.kind !== 'run') throw new Error(`expected a run request, got ${req.kind}`)
  return req.config
}

/** A temp dir with `config.json` holding `content` (raw text, or JSON of an object). */
function writeConfig (t: Pick<TAP, 'teardown'>, content: string | Record<string, unknown>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'co-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  const file = path.join(dir, 'config.json')
  fs.writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content))
  return file
}

const pkgVersion = (JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version

t.test('the short flags', async t => {
  const cfg = configOf(loadConfig(['-n', 'coord', '-s', '/run/c', '-p', '9090', '-t', '0.5', '-l', 'debug']))
  t.match(cfg, { serviceName: 'coord', socketDir: '/run/c', externalPort: 9090, requestTimeoutMs: 500, logLevel: 'debug' })
})

t.test('the long flags of the original, with a space or =', async t => {
  const cfg = configOf(loadConfig([
    '--service_name', 'coord', '--socket_dir=/run/c', '--external_port', '9090',
    '--request_timeout=2', '--log_level', 'warning'
  ]))
  t.match(cfg, { serviceName: 'coord', socketDir: '/run/c', externalPort: 9090, requestTimeoutMs: 2000, logLevel: 'warn' })
})

t.test('a long flag for every additional key', async t => {
  const cfg = configOf(loadConfig([
    '-n', 'c',
    '--bind_address', '127.0.0.1',
    '--dispatch_timeout', '0.25',
    '--hook_timeout', '2',
    '--hook_retries', '4',
    '--peer_url_form', 'string',
    '--drain_timeout', '9',
    '--stream_base_url', 'http://gw:81',
    '--max_body_bytes', '100',
    '--max_frame_bytes', '200',
    '--headers_timeout', '3',
    '--body_timeout', '4',
    '--keep_alive_timeout', '6',
    '--read_timeout', '7',
    '--max_tracked', '8',
    '--max_stream_sockets', '9',
    '--socket_mode', '600',
    '--provider_cache', '0.5'
  ]))
  t.match(cfg, {
    bindAddress: '127.0.0.1',
    dispatchTimeoutMs: 250,
    hookTimeoutMs: 2000,
    hookRetries: 4,
    peerUrlForm: 'string',
    drainTimeoutMs: 9000,
    streamBaseUrl: 'http://gw:81',
    maxBodyBytes: 100,
    maxFrameBytes: 200,
    headersTimeoutMs: 3000,
    bodyTimeoutMs: 4000,
    keepAliveTimeoutMs: 6000,
    readTimeoutMs: 7000,
    maxTracked: 8,
    maxStreamSockets: 9,
    socketMode: 0o600,
    providerCacheMs: 500
  })
})

t.test('-c and --config_file read the file', async t => {
  const file = writeConfig(t, { service_name: 'from-file', external_port: 7070, socket_mode: '640' })
  for (const flag of ['-c', '--config_file']) {
    const cfg = configOf(loadConfig([flag, file]))
    t.match(cfg, { serviceName: 'from-file', externalPort: 7070, socketMode: 0o640, socketDir: '/tmp/cerana' }, flag)
  }
})

t.test('precedence: flag over file over default', async t => {
  const file = writeConfig(t, { service_name: 'file', socket_dir: '/file/dir', external_port: 7070, log_level: 'error' })
  const cfg = configOf(loadConfig(['-p', '6060', '-c', file, '--log_level', 'info']))
  t.equal(cfg.externalPort, 6060, 'flag wins over file (even when given before -c)')
  t.equal(cfg.logLevel, 'info', 'flag wins over file')
  t.equal(cfg.serviceName, 'file', 'file wins over the (absent) default')
  t.equal(cfg.socketDir, '/file/dir', 'file wins over default')
  t.equal(cfg.requestTimeoutMs, 60_000, 'default when neither gives it')
})

t.test('value flags stay strings: -n 0123 keeps its leading zero', async t => {
  t.equal(configOf(loadConfig(['-n', '0123'])).serviceName, '0123')
  t.equal(configOf(loadConfig(['-n', '1e3'])).serviceName, '1e3')
  t.equal(configOf(loadConfig(['-n', 'c', '--socket_mode', '0660'])).socketMode, 0o660)
})

t.test('a flag given twice: the last wins, short or long', async t => {
  const cfg = configOf(loadConfig(['-n', 'first', '--service_name', 'second', '-p', '1', '-p', '2']))
  t.equal(cfg.serviceName, 'second')
  t.equal(cfg.externalPort, 2)
  const reversed = configOf(loadConfig(['--service_name', 'first', '-n', 'second', '--external_port=1', '-p3']))
  t.equal(reversed.serviceName, 'second')
  t.equal(reversed.externalPort, 3)
})

t.test('short flags take an attached value, with or without =', async t => {
  t.equal(configOf(loadConfig(['-ncoord', '-p8081'])).externalPort, 8081)
  t.equal(configOf(loadConfig(['-n=coord', '-p=8082'])).externalPort, 8082)
  t.equal(configOf(loadConfig(['-n=coord'])).serviceName, 'coord')
  t.equal(configOf(loadConfig(['-n', 'c', '-s=/a=b'])).socketDir, '/a=b')
})

t.test('an empty value after = does not swallow the next argument', async t => {
  const file = writeConfig(t, { service_name: 'c', stream_base_url: 'http://gw' })
  t.equal(configOf(loadConfig(['-c', file, '--stream_base_url='])).streamBaseUrl, '', 'flag resets the file value')
  t.throws(() => loadConfig(['-c', file, '--stream_base_url=', 'http://other']), {
    code: 'ERR_CONFIG_INVALID', message: /unexpected argument 'http:\/\/other'/
  })
  t.throws(() => loadConfig(['-n=', 'c']), { code: 'ERR_CONFIG_INVALID', message: /unexpected argument 'c'/ })
  t.equal(configOf(loadConfig(['-c', file, '--stream_base_url', ''])).streamBaseUrl, '')
})

t.test('an unknown flag is named in a ConfigError', async t => {
  t.throws(() => loadConfig(['-n', 'c', '--bogus', '1']), { code: 'ERR_CONFIG_INVALID', message: /--bogus/ })
  t.throws(() => loadConfig(['-n', 'c', '-x']), { code: 'ERR_CONFIG_INVALID', message: /-x/ })
  t.throws(() => loadConfig(['-n', 'c', '--service-name', 'c']), {
    code: 'ERR_CONFIG_INVALID', message: /--service-name.*did you mean '--service_name'/
  })
  t.throws(() => loadConfig(['-n', 'c', '--no-bogus']), { code: 'ERR_CONFIG_INVALID', message: /--no-bogus/ })
  t.throws(() => loadConfig(['--constructor', 'x']), { code: 'ERR_CONFIG_INVALID', message: /--constructor/ })
  t.throws(() => loadConfig(['-hn', 'c']), { code: 'ERR_CONFIG_INVALID', message: /-hn/ })
  t.throws(() => loadConfig(['--n', 'c']), { code: 'ERR_CONFIG_INVALID', message: /--n\b/ })
})

t.test('a value flag without a value or negated is refused', async t => {
  t.throws(() => loadConfig(['-n']), { code: 'ERR_CONFIG_INVALID', message: /service_name/ })
  t.throws(() => loadConfig(['-n', 'c', '-p']), { code: 'ERR_CONFIG_INVALID', message: /external_port/ })
  t.throws(() => loadConfig(['-n', 'c', '--no-socket_dir']), { code: 'ERR_CONFIG_INVALID', message: /socket_dir/ })
  t.throws(() => loadConfig(['-n', 'c', '-c']), { code: 'ERR_CONFIG_INVALID', message: /config_file/ })
})

t.test('a stray argument is refused', async t => {
  t.throws(() => loadConfig(['-n', 'c', 'extra']), { code: 'ERR_CONFIG_INVALID', message: /extra/ })
  t.throws(() => loadConfig(['-n', 'c', '--', '-p']), { code: 'ERR_CONFIG_INVALID', message: /-p/ })
  t.throws(() => loadConfig(['-n', 'c', '-']), { code: 'ERR_CONFIG_INVALID', message: /unexpected argument '-'/ })
})

t.test('invalid values from flags are ConfigErrors naming the key', async t => {
  t.throws(() => loadConfig([]), { code: 'ERR_CONFIG_INVALID', message: 'service_name is required' })
  t.throws(() => loadConfig(['-n', 'c', '-p', '0']), { code: 'ERR_CONFIG_INVALID', message: /external_port/ })
  t.throws(() => loadConfig(['-n', 'c', '-p', '80x']), { code: 'ERR_CONFIG_INVALID', message: /external_port/ })
  t.throws(() => loadConfig(['-n', 'c', '-s', '']), { code: 'ERR_CONFIG_INVALID', message: /socket_dir/ })
  t.throws(() => loadConfig(['-n', 'c', '-l', 'loud']), { code: 'ERR_CONFIG_INVALID', message: /log_level/ })
  t.throws(() => loadConfig(['-n', 'c', '-t', '-1']), { code: 'ERR_CONFIG_INVALID' })
  t.throws(() => loadConfig(['-n', 'c', '-t=-1']), { code: 'ERR_CONFIG_INVALID', message: /request_timeout/ })
})

t.test('a missing file is a ConfigError naming the file', async t => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'co-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  const missing = path.join(dir, 'nope.json')
  t.throws(() => loadConfig(['-n', 'c', '-c', missing]), {
    code: 'ERR_CONFIG_INVALID', message: new RegExp(`config_file ${missing}: cannot read it.*ENOENT`)
  })
  t.throws(() => loadConfig(['-n', 'c', '-c', dir]), { code: 'ERR_CONFIG_INVALID', message: /EISDIR/ }, 'a directory')
})

t.test('a malformed file is a ConfigError naming the file and the problem', async t => {
  const truncated = writeConfig(t, '{"service_name": "c",')
  t.throws(() => loadConfig(['-c', truncated]), {
    code: 'ERR_CONFIG_INVALID', message: new RegExp(`config_file ${truncated}: malformed JSON`)
  })
  const notObject = writeConfig(t, '["service_name"]')
  t.throws(() => loadConfig(['-c', notObject]), { code: 'ERR_CONFIG_INVALID', message: /must hold a JSON object/ })
  const nul = writeConfig(t, 'null')
  t.throws(() => loadConfig(['-c', nul]), { code: 'ERR_CONFIG_INVALID', message: /must hold a JSON object/ })
  const empty = writeConfig(t, '')
  t.throws(() => loadConfig(['-c', empty]), { code: 'ERR_CONFIG_INVALID', message: /malformed JSON/ })
})

t.test('an unknown key in the file is refused, naming it and the file', async t => {
  const file = writeConfig(t, { service_name: 'c', sokcet_dir: '/x' })
  t.throws(() => loadConfig(['-c', file]), {
    code: 'ERR_CONFIG_INVALID', message: new RegExp(`unknown key 'sokcet_dir' in config file ${file}.*did you mean 'socket_dir'`)
  })
  const nested = writeConfig(t, { service_name: 'c', config_file: '/other.json' })
  t.throws(() => loadConfig(['-c', nested]), { code: 'ERR_CONFIG_INVALID', message: /config_file/ })
  const proto = writeConfig(t, '{"service_name":"c","__proto__":{"socket_dir":"/evil"}}')
  t.throws(() => loadConfig(['-c', proto]), { code: 'ERR_CONFIG_INVALID', message: /__proto__/ })
})

t.test('invalid values in the file name their key', async t => {
  const file = writeConfig(t, { service_name: 'c', external_port: 'eighty' })
  t.throws(() => loadConfig(['-c', file]), { code: 'ERR_CONFIG_INVALID', message: /external_port/ })
  const number = writeConfig(t, { service_name: 'c', socket_mode: 660 })
  t.throws(() => loadConfig(['-c', number]), { code: 'ERR_CONFIG_INVALID', message: /socket_mode/ })
})

t.test('a file with a UTF-8 BOM is read', async t => {
  const file = writeConfig(t, '\uFEFF{"service_name":"bom"}')
  t.equal(configOf(loadConfig(['-c', file])).serviceName, 'bom')
})

t.test('opts.readFile replaces the disk', async t => {
  const asked: string[] = []
  const readFile = (p: string): string => { asked.push(p); return '{"service_name":"mem","request_timeout":0.2}' }
  const cfg = configOf(loadConfig(['-c', '/etc/coordinator.json'], { readFile }))
  t.strictSame(asked, ['/etc/coordinator.json'])
  t.match(cfg, { serviceName: 'mem', requestTimeoutMs: 200 })
  t.throws(() => loadConfig(['-c', '/x'], { readFile: () => { throw new Error('denied') } }), {
    code: 'ERR_CONFIG_INVALID', message: /config_file \/x: cannot read it \(denied\)/
  })
})

t.test('help: -h and --help return the usage, even with an invalid config', async t => {
  t.strictSame(loadConfig(['-h']), { kind: 'help', text: USAGE })
  t.strictSame(loadConfig(['--help']), { kind: 'help', text: USAGE })
  t.strictSame(loadConfig(['-p', '0', '--help']), { kind: 'help', text: USAGE })
})

t.test('the usage names every flag, long and short, and the defaults', async t => {
  for (const key of [...CONFIG_KEYS, 'config_file']) t.match(USAGE, `--${key} `, key)
  for (const [short, long] of [['c', 'config_file'], ['n', 'service_name'], ['s', 'socket_dir'], ['p', 'external_port'], ['t', 'request_timeout'], ['l', 'log_level']]) {
    t.match(USAGE, `-${short}, --${long} `, `-${short}`)
  }
  t.match(USAGE, '-h, --help')
  t.match(USAGE, '--version')
  t.match(USAGE, /--socket_dir <dir>.*default \/tmp\/cerana/)
  t.match(USAGE, /--external_port <port>.*default 8080/)
  t.match(USAGE, /--request_timeout <seconds>.*default 0 \(= 60\)/)
  t.match(USAGE, /--log_level <level>.*default warning/)
  t.match(USAGE, /--socket_mode <octal>.*default 660/)
  t.match(USAGE, /--dispatch_timeout <seconds>.*default 5/)
})

t.test('--version prints the version of package.json', async t => {
  t.strictSame(loadConfig(['--version']), { kind: 'version', text: `coordinator ${pkgVersion}\n` })
  t.match(pkgVersion, /^\d+\.\d+\.\d+/)
})
