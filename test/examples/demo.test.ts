import t from 'tap'
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const DEMO = fileURLToPath(new URL('../../dist/examples/demo.js', import.meta.url))
const DEMO_TIMEOUT_MS = 45_000

t.test('npm run demo: every step as expected, everything stopped, the temp dir removed', async t => {
  const proc = spawn(process.execPath, [DEMO], { stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => { if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL') })
  let out = ''
  let err = ''
  proc.stdout.on('data', (c: Buffer) => { out += c.toString() })
  proc.stderr.on('data', (c: Buffer) => { err += c.toString() })
  const code = await new Promise<number | string>((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGINT')
      reject(new Error(`demo still running after ${DEMO_TIMEOUT_MS} ms:\n${out}\n${err}`))
    }, DEMO_TIMEOUT_MS)
    proc.on('close', (c, signal) => { clearTimeout(timer); resolve(c ?? signal ?? -1) })
  })
  t.equal(code, 0, 'exit 0', { stdout: out, stderr: err })
  t.equal(err, '', 'nothing on stderr')

  const dir = /socket dir\s+(\S+)/.exec(out)?.[1]
  t.match(dir, /co-demo-/, 'names its socket dir')
  t.notOk(existsSync(dir ?? '/'), 'the socket dir is removed')
  const port = /coordinator\s+http:\/\/127\.0\.0\.1:(\d+)/.exec(out)?.[1]
  t.ok(Number(port) > 0, 'picked a port')

  const steps = [...out.matchAll(/^(\d+)\. (.+)$/gm)].map(m => m[2])
  t.equal(steps.length, 7, 'seven steps')
  t.equal([...out.matchAll(/^ {3}ok: exit \d+ in \d+ ms$/gm)].length, 7, 'each one ok')
  t.notMatch(out, /FAILED/)
  t.match(out, /coordinator-cli -c http:\/\/127\.0\.0\.1:\d+ -t CPUInfo\n/)
  t.match(out, /"greeting":"hello","user":\{"id":42,"admin":false\}/)
  t.match(out, /coordinator-cli -c unix:\/\/\S+\/coordinator\/demo\.sock -t SystemStatus/)
  t.match(out, /1048576 bytes, sha256 [0-9a-f]{16}…, byte for byte as generated/)
  t.match(out, /\(65 bytes, as sent\)/)
  t.match(out, /response error: example Stream:/)
  t.match(out, /request refused: no providers available for task/)
  t.match(out, /stopped: example provider \(exit 0\), coordinator \(exit 0\); sockets removed; temp dir removed/)
  t.match(out, /demo: 7 of 7 steps as expected\n$/)
})
