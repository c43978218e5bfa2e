import t from 'tap'
import {
  emptyUrl, foldKey, formatUrl, goJsonString, goUrlJson, httpUrl, joinHostPort, parseUrlString,
  splitHostPort, unixUrl, urlFromGoObject, validateUrl
} from '../../src/core/go-url.js'
import type { MsgUrl } from '../../src/core/go-url.js'

function url (fields: Partial<MsgUrl>): MsgUrl {
  return { ...emptyUrl(), ...fields }
}

t.test('parses absolute URLs into Go net/url fields', async t => {
  const cases: Array<[string, Partial<MsgUrl>]> = [
    ['unix:///run/x.sock', { scheme: 'unix', path: '/run/x.sock' }],
    ['http:///p', { scheme: 'http', path: '/p' }],
    ['http://127.0.0.1:4080/response', { scheme: 'http', host: '127.0.0.1:4080', path: '/response' }],
    ['https://example.com', { scheme: 'https', host: 'example.com' }],
    ['http://localhost:8080/stream?addr=unix%3A%2F%2F%2Frun%2Fx.sock',
      { scheme: 'http', host: 'localhost:8080', path: '/stream', rawQuery: 'addr=unix%3A%2F%2F%2Frun%2Fx.sock' }],
    ['HTTP://Example.COM/P', { scheme: 'http', host: 'Example.COM', path: '/P' }],
    ['http://[::1]:5000/p', { scheme: 'http', host: '[::1]:5000', path: '/p' }],
    ['http://[fe80::1%25en0]/p', { scheme: 'http', host: '[fe80::1%en0]', path: '/p' }],
    ['http://h/a%20b', { scheme: 'http', host: 'h', path: '/a b' }],
    ['http://h/a%2Fb', { scheme: 'http', host: 'h', path: '/a/b', rawPath: '/a%2Fb' }],
    ['http://h/%7e', { scheme: 'http', host: 'h', path: '/~', rawPath: '/%7e' }],
    ['http://h/p?', { scheme: 'http', host: 'h', path: '/p', forceQuery: true }],
    ['http://h/p?a=1?b', { scheme: 'http', host: 'h', path: '/p', rawQuery: 'a=1?b' }],
    ['http://h/p#frag%20x', { scheme: 'http', host: 'h', path: '/p', fragment: 'frag x' }],
    ['http://h/p#a%2fb', { scheme: 'http', host: 'h', path: '/p', fragment: 'a/b', rawFragment: 'a%2fb' }],
    ['unix:/run/x.sock', { scheme: 'unix', path: '/run/x.sock', omitHost: true }],
    ['unix:rel.sock', { scheme: 'unix', opaque: 'rel.sock' }],
    ['http://h:/p', { scheme: 'http', host: 'h:', path: '/p' }],
    ['unix:///run/é.sock', { scheme: 'unix', path: '/run/é.sock', rawPath: '/run/é.sock' }],
    ['http://h/caf%C3%A9', { scheme: 'http', host: 'h', path: '/café' }],
    ['http://h%C3%A9/', { scheme: 'http', host: 'hé', path: '/' }],
    ['git+ssh.v2-x://h/p', { scheme: 'git+ssh.v2-x', host: 'h', path: '/p' }],
    ['http://h/p#a!b(c)*', { scheme: 'http', host: 'h', path: '/p', fragment: 'a!b(c)*' }]
  ]
  for (const [input, fields] of cases) {
    t.strictSame(parseUrlString(input), url(fields), input)
  }
})

t.test('formatUrl(parseUrlString(s)) gives s back for canonical URLs', async t => {
  for (const s of [
    'unix:///run/x.sock', 'http:///p', 'http://localhost:8080/stream?addr=unix%3A%2F%2F%2Frun%2Fx.sock',
    'http://[::1]:80/a%20b?x#f%20g', 'unix:/x', 'http://h/a%2Fb', 'http://h/%7e', 'http://h/p?',
    'http://h/p#a%2fb', 'http://h/p#a!b(c)*', 'https://example.com', 'unix:rel.sock', 'http://h/caf%C3%A9', 'http://h%C3%A9/'
  ]) {
    t.equal(formatUrl(parseUrlString(s)), s, s)
  }
})

t.test('formatUrl escapes like Go URL.String()', async t => {
  t.equal(formatUrl(unixUrl('/run/x.sock')), 'unix:///run/x.sock')
  t.equal(formatUrl(httpUrl('', '/p')), 'http:///p')
  t.equal(formatUrl(httpUrl('h', '/a b?c#d%e')), 'http://h/a%20b%3Fc%23d%25e')
  t.equal(formatUrl(httpUrl('h', '/é')), 'http://h/%C3%A9')
  t.equal(formatUrl(httpUrl('h:1', 'rel')), 'http://h:1/rel')
  t.equal(formatUrl(httpUrl('localhost:8080', '/stream', 'addr=x', 'https')), 'https://localhost:8080/stream?addr=x')
  t.equal(formatUrl(url({ scheme: 'http', host: 'h', path: '*' })), 'http://h/*')
  t.equal(formatUrl(url({ scheme: 'http', host: 'h', path: '/p', fragment: 'a b' })), 'http://h/p#a%20b')
  t.equal(formatUrl(url({ scheme: 'http', host: 'h', path: '/a/b', rawPath: '/a%2Fb' })), 'http://h/a%2Fb')
  // a RawPath that does not decode to Path is ignored, as Go does
  t.equal(formatUrl(url({ scheme: 'http', host: 'h', path: '/x', rawPath: '/a%2Fb' })), 'http://h/x')
  t.equal(formatUrl(url({ scheme: 'http', host: 'h', path: '/x', rawPath: '/%zz' })), 'http://h/x')
  t.equal(formatUrl(url({ scheme: 'http', host: 'h', fragment: 'x', rawFragment: '%zz' })), 'http://h#x')
  t.equal(formatUrl(url({ path: 'a:b' })), './a:b')
  t.equal(formatUrl(url({ path: '/a' })), '/a')
  t.equal(formatUrl(url({ scheme: 'unix', omitHost: true, path: '/x' })), 'unix:/x')
})

t.test('parseUrlString refuses what Go refuses, with coded errors', async t => {
  const cases: Array<[string, string]> = [
    ['notaurl', 'ERR_URL_INVALID'],
    ['/abs/path', 'ERR_URL_INVALID'],
    ['', 'ERR_URL_INVALID'],
    [':x', 'ERR_URL_INVALID'],
    ['1http://x/', 'ERR_URL_INVALID'],
    ['http://x/%zz', 'ERR_URL_INVALID'],
    ['http://x/%4', 'ERR_URL_INVALID'],
    ['http://x/%ff', 'ERR_URL_INVALID'],
    ['http://x/p#%g0', 'ERR_URL_INVALID'],
    ['http://x/\n', 'ERR_URL_INVALID'],
    ['http://x/\u007f', 'ERR_URL_INVALID'],
    ['http://a b/', 'ERR_URL_INVALID'],
    ['http://%41/', 'ERR_URL_INVALID'],
    ['http://h%C3%A9 x/', 'ERR_URL_INVALID'],
    ['http://[::1/', 'ERR_URL_INVALID'],
    ['http://x:abc/', 'ERR_URL_PORT'],
    ['http://x:0/', 'ERR_URL_PORT'],
    ['http://x:65536/', 'ERR_URL_PORT'],
    ['http://x:1234567/', 'ERR_URL_PORT'],
    ['http://[::1]x/', 'ERR_URL_PORT'],
    ['http://[::1]:0/', 'ERR_URL_PORT'],
    ['http://user:pass@x/', 'ERR_URL_CREDENTIALS'],
    ['http://user@x/', 'ERR_URL_CREDENTIALS']
  ]
  for (const [input, code] of cases) {
    t.throws(() => parseUrlString(input), { code }, JSON.stringify(input))
  }
  t.equal(parseUrlString('http://x:65535/').host, 'x:65535')
  t.equal(parseUrlString('http://x:1/').host, 'x:1')
})

t.test('urlFromGoObject matches keys case-insensitively and ignores the rest', async t => {
  t.strictSame(urlFromGoObject({
    Scheme: 'unix', Opaque: '', User: null, Host: '', Path: '/run/x.sock', RawPath: '', OmitHost: false,
    ForceQuery: false, RawQuery: '', Fragment: '', RawFragment: ''
  }), unixUrl('/run/x.sock'))
  t.strictSame(urlFromGoObject({ scheme: 'http', host: 'h:1', path: '/p' }), httpUrl('h:1', '/p'))
  t.strictSame(urlFromGoObject({ SCHEME: 'http', rawquery: 'a=1', forcequery: true, omithost: true, FRAGMENT: 'f', rawfragment: 'g', rawpath: 'r', opaque: 'o' }),
    url({ scheme: 'http', rawQuery: 'a=1', forceQuery: true, omitHost: true, fragment: 'f', rawFragment: 'g', rawPath: 'r', opaque: 'o' }))
  t.strictSame(urlFromGoObject({}), emptyUrl())
  t.strictSame(urlFromGoObject({ Extra: 1, Scheme: 'http', Nested: { a: [1] } }), url({ scheme: 'http' }))
  // Go leaves a field untouched on null, and accepts any user object (which we drop)
  t.strictSame(urlFromGoObject({ Scheme: 'http', scheme: null, User: {} }), url({ scheme: 'http' }))
  // later members win, whatever their case
  t.equal(urlFromGoObject({ path: '/a', Path: '/b' }).path, '/b')
  t.equal(urlFromGoObject({ Path: '/a', PATH: '/b' }).path, '/b')
  // Go folds the long s like an s
  t.equal(urlFromGoObject({ 'ſcheme': 'unix' }).scheme, 'unix')
  t.equal(foldKey('RawPath'), 'rawpath')
  t.equal(foldKey('\u212Aey'), 'key')
})

t.test('urlFromGoObject refuses fields of the wrong type', async t => {
  t.throws(() => urlFromGoObject({ Host: 5 }, 'Request.responseHook'), { code: 'ERR_MESSAGE_FIELD_TYPE', message: /responseHook\.Host/ })
  t.throws(() => urlFromGoObject({ Path: ['x'] }), { code: 'ERR_MESSAGE_FIELD_TYPE', message: /array/ })
  t.throws(() => urlFromGoObject({ OmitHost: 'yes' }), { code: 'ERR_MESSAGE_FIELD_TYPE', message: /bool/ })
  t.throws(() => urlFromGoObject({ forceQuery: 1 }), { code: 'ERR_MESSAGE_FIELD_TYPE' })
  t.throws(() => urlFromGoObject({ Scheme: true }), { code: 'ERR_MESSAGE_FIELD_TYPE', message: /bool into/ })
  t.throws(() => urlFromGoObject({ User: 'me' }), { code: 'ERR_MESSAGE_FIELD_TYPE' })
  t.throws(() => urlFromGoObject({ User: 1 }), { code: 'ERR_MESSAGE_FIELD_TYPE' })
})

t.test('validateUrl accepts unix and http(s) URLs and names the field on refusal', async t => {
  t.strictSame(validateUrl(unixUrl('/run/x.sock'), 'responseHook'), unixUrl('/run/x.sock'))
  t.strictSame(validateUrl(httpUrl('', '/p'), 'responseHook'), httpUrl('', '/p'))
  t.strictSame(validateUrl(httpUrl('[::1]:8080', '/p', '', 'https'), 'streamURL'), httpUrl('[::1]:8080', '/p', '', 'https'))
  t.strictSame(validateUrl(url({ scheme: 'HTTP', host: 'h' }), 'x'), url({ scheme: 'http', host: 'h' }))
  t.equal(validateUrl(httpUrl('h:', '/p'), 'x').host, 'h:')
  const input = httpUrl('h', '/p')
  t.equal(validateUrl(input, 'x'), input, 'returns the same object when nothing changes')

  t.throws(() => validateUrl(url({ scheme: 'ftp', host: 'x' }), 'streamURL'), { code: 'ERR_URL_SCHEME', message: /streamURL.*ftp/ })
  t.throws(() => validateUrl(url({ scheme: '' }), 'taskURL'), { code: 'ERR_URL_SCHEME', message: /taskURL/ })
  t.throws(() => validateUrl(url({ scheme: 'unix', host: 'h', path: '/x' }), 'f'), { code: 'ERR_URL_INVALID' })
  t.throws(() => validateUrl(url({ scheme: 'unix', path: 'rel.sock' }), 'f'), { code: 'ERR_URL_INVALID' })
  t.throws(() => validateUrl(url({ scheme: 'unix' }), 'f'), { code: 'ERR_URL_INVALID' })
  t.throws(() => validateUrl(url({ scheme: 'unix', path: '/a\0b' }), 'f'), { code: 'ERR_URL_INVALID' })
  t.throws(() => validateUrl(url({ scheme: 'unix', opaque: 'x' }), 'f'), { code: 'ERR_URL_INVALID' })
  t.throws(() => validateUrl(httpUrl('h:0', '/'), 'f'), { code: 'ERR_URL_PORT' })
  t.throws(() => validateUrl(httpUrl('h:65536', '/'), 'f'), { code: 'ERR_URL_PORT' })
  t.throws(() => validateUrl(httpUrl('h:http', '/'), 'f'), { code: 'ERR_URL_PORT' })
  t.throws(() => validateUrl(httpUrl('[::1]x', '/'), 'f'), { code: 'ERR_URL_PORT' })
  t.throws(() => validateUrl(httpUrl('[::1', '/'), 'f'), { code: 'ERR_URL_INVALID' })
  t.throws(() => validateUrl(httpUrl('a b', '/'), 'f'), { code: 'ERR_URL_INVALID' })
  t.throws(() => validateUrl(httpUrl('a/b', '/'), 'f'), { code: 'ERR_URL_INVALID' })
  t.throws(() => validateUrl(httpUrl('a\nb', '/'), 'f'), { code: 'ERR_URL_INVALID' })
  // found by the fuzzer: `http://` + `?hook` reads back with `%3Fhook` as its host
  t.throws(() => validateUrl(httpUrl('', '?hook'), 'responseHook'), { code: 'ERR_URL_INVALID', message: /responseHook: a URL without host needs an absolute path/ })
  t.throws(() => validateUrl(httpUrl('', 'p'), 'f'), { code: 'ERR_URL_INVALID' })
  t.equal(validateUrl(httpUrl('h', 'p'), 'f').path, 'p', 'with a host, a rootless path is written after a slash')
  t.equal(validateUrl(httpUrl('', ''), 'f').path, '', 'no host and no path')
})

t.test('goUrlJson writes the 11 keys of Go 1.19, byte-identical to the wire', async t => {
  const wire = '{"Scheme":"unix","Opaque":"","User":null,"Host":"","Path":"/run/cerana/response/coord.sock",' +
    '"RawPath":"","OmitHost":false,"ForceQuery":false,"RawQuery":"","Fragment":"","RawFragment":""}'
  t.equal(goUrlJson(unixUrl('/run/cerana/response/coord.sock')), wire)
  const u = url({ scheme: 'http', host: 'h', path: '/a<b>&c\u2028', rawQuery: 'q="1"', omitHost: true, forceQuery: true, fragment: '\u0001\n', opaque: 'o', rawPath: 'r', rawFragment: 'f' })
  const json = goUrlJson(u)
  t.match(json, /"Path":"\/a\\u003cb\\u003e\\u0026c\\u2028"/)
  t.match(json, /"Fragment":"\\u0001\\n"/)
  t.match(json, /"OmitHost":true,"ForceQuery":true/)
  const back = JSON.parse(json) as Record<string, unknown>
  t.strictSame(Object.keys(back), ['Scheme', 'Opaque', 'User', 'Host', 'Path', 'RawPath', 'OmitHost', 'ForceQuery', 'RawQuery', 'Fragment', 'RawFragment'])
  t.strictSame(urlFromGoObject(back), u)
})

t.test('goJsonString escapes as Go and round-trips through JSON.parse', async t => {
  t.equal(goJsonString('plain'), '"plain"')
  t.equal(goJsonString('<a href="x">&</a>'), '"\\u003ca href=\\"x\\"\\u003e\\u0026\\u003c/a\\u003e"')
  t.equal(goJsonString('\b\f\t\r\n\\\u001f\u007f'), '"\\u0008\\u000c\\t\\r\\n\\\\\\u001f\u007f"')
  t.equal(goJsonString('\u2028\u2029'), '"\\u2028\\u2029"')
  t.equal(goJsonString('é😀'), '"é😀"')
  t.equal(goJsonString('a\ud800b\udc00'), '"a\\ud800b\\udc00"')
  t.equal(goJsonString('😀\ud83d'), '"😀\\ud83d"')
  let seed = 7
  const rand = (): number => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed }
  for (let k = 0; k < 300; k++) {
    let s = ''
    const len = rand() % 12
    for (let j = 0; j < len; j++) s += String.fromCharCode(rand() % 4 === 0 ? rand() % 0x10000 : rand() % 0x80)
    t.equal(JSON.parse(goJsonString(s)), s)
  }
})

t.test('splitHostPort and joinHostPort follow Go', async t => {
  const cases: Array<[string, string, string]> = [
    ['localhost:8080', 'localhost', '8080'],
    ['localhost', 'localhost', ''],
    ['[::1]:5000', '::1', '5000'],
    ['[::1]', '::1', ''],
    ['10.1.2.3:80', '10.1.2.3', '80'],
    ['', '', ''],
    ['h:', 'h', ''],
    ['h:x', 'h:x', '']
  ]
  for (const [host, hostname, port] of cases) {
    t.strictSame(splitHostPort(host), { hostname, port }, host)
  }
  t.equal(joinHostPort('::1', '5000'), '[::1]:5000')
  t.equal(joinHostPort('::1', ''), '[::1]')
  t.equal(joinHostPort('10.1.2.3', '8080'), '10.1.2.3:8080')
  t.equal(joinHostPort('foo', ''), 'foo')
  for (const host of ['[::1]:5000', '[fe80::1]', 'a:1', 'a']) {
    const { hostname, port } = splitHostPort(host)
    t.equal(joinHostPort(hostname, port), host)
  }
})
