import t from 'tap'
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('..', import.meta.url))

interface PackFile { path: string, size: number }

/** The file list `npm pack` would publish, from the current build (no scripts run: fast, no rebuild). */
function packList (): Promise<PackFile[]> {
  return new Promise((resolve, reject) => {
    execFile('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, timeout: 30_000 }, (err, stdout) => {
      if (err !== null) { reject(err); return }
      try {
        const [report] = JSON.parse(stdout) as Array<{ files: PackFile[] }>
        resolve(report?.files ?? [])
      } catch (e) {
        reject(e)
      }
    })
  })
}

t.test('npm pack holds dist/, the README, the license and package.json: no tests, benches or maps', async t => {
  const files = (await packList()).map(f => f.path)
  const outside = files.filter(p => !p.startsWith('dist/'))
  t.same(outside.filter(p => !/^README(\.md)?$/i.test(p)).sort(), ['LICENSE', 'package.json'])
  const dist = files.filter(p => p.startsWith('dist/'))
  t.same(dist.filter(p => !/\.(js|d\.ts)$/.test(p)), [], 'only compiled JS and declarations')
  t.same(files.filter(p => /(^|\/)(test|bench|fixtures)\//.test(p) || /\.test\./.test(p)), [], 'no test or bench files')
  t.same(files.filter(p => p.endsWith('.map') || p.endsWith('.tsbuildinfo')), [])
  for (const needed of ['dist/cli/coordinator.js', 'dist/cli/coordinator-cli.js', 'dist/index.js', 'dist/index.d.ts']) {
    t.ok(files.includes(needed), `${needed} is packed (build first: npx tsc -p tsconfig.build.json)`)
  }
})

t.test('the production install is mri and tiny-invariant, nothing else; bins and entry point are packed files', async t => {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    dependencies?: Record<string, string>
    optionalDependencies?: Record<string, string>
    peerDependencies?: Record<string, string>
    bin: Record<string, string>
    main: string
    license: string
    files: string[]
  }
  t.same(Object.keys(pkg.dependencies ?? {}).sort(), ['mri', 'tiny-invariant'])
  t.same(pkg.optionalDependencies ?? {}, {})
  t.same(pkg.peerDependencies ?? {}, {})
  t.equal(pkg.license, 'MIT')
  t.match(readFileSync(new URL('../LICENSE', import.meta.url), 'utf8'), /^MIT License\n\nCopyright \(c\) 2026 coordinator authors\n/)
  for (const target of [...Object.values(pkg.bin), pkg.main]) t.match(target, /^dist\/.*\.js$/)
})
