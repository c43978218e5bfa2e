import t from 'tap'
import { Buffer } from 'node:buffer'
import { MAX_JSON_DEPTH, decodeJsonString, jsonTypeAt, scanJson } from '../../src/core/json-scan.js'

function accepts (text: string): boolean {
  try {
    scanJson(Buffer.from(text))
    return true
  } catch (err) {
    if ((err as { code?: string }).code !== 'ERR_MESSAGE_JSON') throw err
    return false
  }
}

// An assertion name that cannot break the TAP stream (U+2028 and control characters escaped).
function show (text: string): string {
  return JSON.stringify(text).replace(/[^\x20-\x7e]/g, c => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'))
}

function parses (text: string): boolean {
  try {
    JSON.parse(text)
    return true
  } catch {
    return false
  }
}

t.test('returns the raw spans of the top-level members, keys decoded', async t => {
  const text = ' {"a" : 1 ,"b":{"x":[1,{"y":2}]},"k\\u00e9\\"y":"v\\"}",\n"a":null, "e":{},"f":[] , "s":"é"}\t'
  const bytes = Buffer.from(text)
  const scan = scanJson(bytes)
  t.equal(scan.type, 'object')
  const spans = scan.members.map(m => [m.key, bytes.toString('utf8', m.start, m.end)])
  t.strictSame(spans, [
    ['a', '1'],
    ['b', '{"x":[1,{"y":2}]}'],
    ['ké"y', '"v\\"}"'],
    ['a', 'null'],
    ['e', '{}'],
    ['f', '[]'],
    ['s', '"é"']
  ])
})

t.test('spans are byte offsets, also after multi-byte characters', async t => {
  const bytes = Buffer.from('{"ü":"ü","n":18446744073709551615}')
  const scan = scanJson(bytes)
  t.strictSame(scan.members.map(m => [m.key, m.start, m.end]), [['ü', 6, 10], ['n', 15, 35]])
  t.equal(bytes.toString('utf8', 15, 35), '18446744073709551615')
})

t.test('decodeJsonString decodes short, long, escaped and non-ASCII strings', async t => {
  for (const value of ['', 'id', 'x'.repeat(48), 'y'.repeat(49), 'z'.repeat(500) + '\n', 'é', 'a"b\\c', '\u2028<', 'k'.repeat(60) + 'é']) {
    const bytes = Buffer.from(' ' + JSON.stringify(value) + ' ')
    t.equal(decodeJsonString(bytes, 1, bytes.length - 1), value)
    t.equal(decodeJsonString(new Uint8Array(bytes), 1, bytes.length - 1), value)
  }
  const long = 'm'.repeat(100)
  const scan = scanJson(Buffer.from(`{"${long}":1}`))
  t.equal(scan.members[0]?.key, long)
})

t.test('accepts a Uint8Array that is not a Buffer', async t => {
  const bytes = new TextEncoder().encode('{"k\\n":true}')
  const scan = scanJson(bytes)
  t.strictSame(scan.members, [{ key: 'k\n', start: 7, end: 11 }])
})

t.test('reports the type of a top-level value that is not an object', async t => {
  const cases: Array<[string, string]> = [
    ['[1,2]', 'array'], ['"s"', 'string'], ['-1.5e3', 'number'], ['0', 'number'], ['true', 'boolean'],
    ['false', 'boolean'], ['null', 'null'], ['  {} ', 'object'], ['[]', 'array']
  ]
  for (const [text, type] of cases) {
    const scan = scanJson(Buffer.from(text))
    t.equal(scan.type, type, text)
    t.strictSame(scan.members, [], text)
  }
  t.equal(jsonTypeAt(Buffer.from('x{'), 1), 'object')
})

t.test('syntax errors carry Go-like messages', async t => {
  const cases: Array<[string, string]> = [
    ['', 'unexpected end of JSON input'],
    ['   ', 'unexpected end of JSON input'],
    ['{"id":"a"', 'unexpected end of JSON input'],
    ['hello', "invalid character 'h' looking for beginning of value"],
    ['not json', "invalid character 'o' in literal null (expecting 'u')"],
    ['{"a":1}x', "invalid character 'x' after top-level value"],
    ['{"a" 1}', "invalid character '1' after object key"],
    ['{"a":1 "b"}', "invalid character '\"' after object key:value pair"],
    ['{1:2}', "invalid character '1' looking for beginning of object key string"],
    ['{"a":1,}', "invalid character '}' looking for beginning of object key string"],
    ['[1 2]', "invalid character '2' after array element"],
    ['[1,]', "invalid character ']' looking for beginning of value"],
    ['"a\nb"', "invalid character '\\n' in string literal"],
    ['"a\u0001"', "invalid character '\\x01' in string literal"],
    ['"\\x"', "invalid character 'x' in string escape code"],
    ['"\\u12g4"', "invalid character 'g' in \\u hexadecimal character escape"],
    ['-a', "invalid character 'a' in numeric literal"],
    ['1.e', "invalid character 'e' after decimal point in numeric literal"],
    ['1e+', 'unexpected end of JSON input'],
    ['1ex', "invalid character 'x' in exponent of numeric literal"],
    ['01', "invalid character '1' after top-level value"],
    ["'a'", "invalid character '\\'' looking for beginning of value"],
    ['\u00a0 1', "invalid character 'Â' looking for beginning of value"],
    ['[\u0085]', "invalid character 'Â' looking for beginning of value"],
    ['\u007f', "invalid character '\\x7f' looking for beginning of value"]
  ]
  for (const [text, message] of cases) {
    t.throws(() => scanJson(Buffer.from(text)), { code: 'ERR_MESSAGE_JSON', message }, show(text))
  }
})

t.test('refuses invalid UTF-8 before scanning', async t => {
  for (const bytes of [[0x22, 0xff, 0x22], [0x22, 0xc3, 0x22], [0x22, 0xed, 0xa0, 0x80, 0x22], [0xc0, 0xaf]]) {
    t.throws(() => scanJson(Buffer.from(bytes)), { code: 'ERR_MESSAGE_UTF8' }, bytes.join(' '))
  }
})

t.test('deep nesting is a coded error, never a stack overflow', async t => {
  t.equal(MAX_JSON_DEPTH, 10000)
  t.throws(() => scanJson(Buffer.from('['.repeat(100000))), { code: 'ERR_MESSAGE_JSON', message: 'exceeded max depth' })
  t.throws(() => scanJson(Buffer.from('{"a":'.repeat(100000))), { code: 'ERR_MESSAGE_JSON', message: 'exceeded max depth' })
  const deepest = '['.repeat(MAX_JSON_DEPTH) + ']'.repeat(MAX_JSON_DEPTH)
  t.equal(scanJson(Buffer.from(deepest)).type, 'array')
  t.throws(() => scanJson(Buffer.from('[' + deepest + ']')), { code: 'ERR_MESSAGE_JSON' })
  // a deep but allowed unclosed input is an ordinary end-of-input error
  t.throws(() => scanJson(Buffer.from('['.repeat(500))), { code: 'ERR_MESSAGE_JSON', message: 'unexpected end of JSON input' })
})

t.test('maxDepth is settable', async t => {
  t.equal(scanJson(Buffer.from('{"a":[{}]}'), { maxDepth: 3 }).type, 'object')
  t.throws(() => scanJson(Buffer.from('{"a":[{"b":[]}]}'), { maxDepth: 3 }), { code: 'ERR_MESSAGE_JSON', message: 'exceeded max depth' })
  t.throws(() => scanJson(Buffer.from('[]'), { maxDepth: 0 }), { code: 'ERR_MESSAGE_JSON' })
  t.equal(scanJson(Buffer.from('1'), { maxDepth: 0 }).type, 'number')
})

t.test('accepts exactly what JSON.parse accepts: edge cases', async t => {
  const valid = [
    '0', '-0', '-0.0e-0', '1E+2', '1e2', '123.456', '"\\ud800"', '"\\udc00\\ud800"', '"\\/\\b\\f\\n\\r\\t\\\\\\""',
    ' \t\r\n1 \t\r\n', '[]', '{}', '[[],{}]', '{"":""}', '"\u2028"', '"\u007f"', '"😀"', 'true', 'false', 'null',
    '[1,-1,1.5,-1.5e10,"x",true,false,null,{"a":[]}]', '1.0e400', '18446744073709551615'
  ]
  const invalid = [
    '01', '-01', '1.', '.5', '+1', '1e', '1e+', '--1', '-', '0x10', 'NaN', 'Infinity', '-Infinity',
    '"\\x"', '"\\u12"', '"\\U0041"', '"\t"', '"\u0000"', '"\u001f"', '[1,]', '{"a":1,}', '[,1]', '{,}',
    '{"a"}', '{"a":}', '{:1}', '{a:1}', "{'a':1}", '[1;2]', 'tru', 'nul', 'falsey', 'True', 'nulll',
    '"abc', '[', '{', ']', '}', '', ' ', '\ufeff{}', '1 2', '{}{}', '[]]', '\u00a0', '\u000b1', '\u000c1',
    '"\\', '"\\u', '[1', '{"a"', '{"a":1', '{"a":1,', '//c\n1', '/*c*/1', '1/', 'undefined'
  ]
  for (const text of valid) {
    t.equal(parses(text), true, `JSON.parse accepts ${show(text)}`)
    t.equal(accepts(text), true, show(text))
  }
  for (const text of invalid) {
    t.equal(parses(text), false, `JSON.parse refuses ${show(text)}`)
    t.equal(accepts(text), false, show(text))
  }
})

t.test('accepts exactly what JSON.parse accepts: generated values and mutations', async t => {
  let seed = 12345
  const rand = (k: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff
    return seed % k
  }
  const ws = (): string => [' ', '', '', '\n', '\t', '\r', '  '][rand(7)]!
  const pieces = ['a', 'é', '😀', '\\n', '\\u00e9', '\\ud83d\\ude00', '\\"', '\\\\', '\\/', '<>&', ' ', '\u2028']
  const str = (): string => {
    let s = '"'
    for (let k = rand(5); k > 0; k--) s += pieces[rand(pieces.length)]!
    return s + '"'
  }
  const num = (): string => {
    let s = rand(2) === 0 ? '-' : ''
    s += rand(3) === 0 ? '0' : String(1 + rand(9)) + '0123456789'.slice(0, rand(6))
    if (rand(3) === 0) s += '.' + String(rand(1000))
    if (rand(3) === 0) s += ['e', 'E'][rand(2)]! + ['', '+', '-'][rand(3)]! + String(rand(400))
    return s
  }
  const value = (depth: number): string => {
    const pick = depth > 4 ? rand(4) : rand(6)
    switch (pick) {
      case 0: return str()
      case 1: return num()
      case 2: return ['true', 'false', 'null'][rand(3)]!
      case 3: return num()
      case 4: {
        const items: string[] = []
        for (let k = rand(4); k > 0; k--) items.push(ws() + value(depth + 1) + ws())
        return '[' + items.join(',') + ws() + ']'
      }
      default: {
        const items: string[] = []
        for (let k = rand(4); k > 0; k--) items.push(ws() + str() + ws() + ':' + ws() + value(depth + 1) + ws())
        return '{' + items.join(',') + ws() + '}'
      }
    }
  }
  const noise = ['', ',', ']', '}', '"', '\\', ':', '0', '.', 'e', '-', 'x', ' ', '\u0001', '{', '[', 'n', '1']
  let agreed = 0
  let invalidSeen = 0
  for (let k = 0; k < 400; k++) {
    const text = ws() + value(0) + ws()
    t.equal(accepts(text), true, show(text))
    t.equal(parses(text), true, show(text))
    for (let m = 0; m < 3; m++) {
      const at = rand(text.length + 1)
      const cut = rand(3)
      const mutated = text.slice(0, at) + noise[rand(noise.length)]! + text.slice(at + cut)
      const expected = parses(mutated)
      if (!expected) invalidSeen++
      if (accepts(mutated) !== expected) t.fail(`disagrees with JSON.parse on ${show(mutated)}`)
      else agreed++
    }
  }
  t.equal(agreed, 1200)
  t.ok(invalidSeen > 300, `mutations produced ${invalidSeen} invalid texts`)
})
