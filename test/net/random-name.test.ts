import t from 'tap'
import { randomHex } from '../../src/net/random-name.js'

t.test('randomHex gives n random bytes as lowercase hex', async t => {
  t.match(randomHex(6), /^[0-9a-f]{12}$/)
  t.match(randomHex(16), /^[0-9a-f]{32}$/)
  const seen = new Set<string>()
  for (let i = 0; i < 1000; i++) seen.add(randomHex(8))
  t.equal(seen.size, 1000, 'no repeats among 1000 draws of 64 bits')
})
