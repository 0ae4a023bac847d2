import { execFileSync } from 'node:child_process'
import { chmodSync, mkdirSync, readFileSync, symlinkSync, writeFileSync, existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { ROOT } from './proc.js'

interface Manifest { name: string; bin: Record<string, string>; dependencies: Record<string, string>; peerDependencies: Record<string, string> }

/**
 * Packs this repository (`npm pack`, dist/ already built by `npm test`) and installs the tarball into a
 * fresh app in `dir`, without network: the tarball is unpacked into node_modules/<name> as npm would,
 * and its dependencies and peer dependencies (only those: what `npm install <tarball>` would add) are
 * linked from this repository's node_modules, already installed by `npm ci`. (`npm install --offline`
 * would need registry metadata that `npm ci` never caches, so it fails on a fresh CI machine.)
 * `extra` links more of the app's own packages (e.g. @types/node, typescript for a TS app).
 */
export function installPacked(dir: string, extra: string[] = []): { app: string; bin: string; tarball: string; files: string[] } {
  mkdirSync(dir, { recursive: true })
  const out = execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: ROOT, encoding: 'utf8' })
  const [packed] = JSON.parse(out) as Array<{ filename: string; files: Array<{ path: string }> }>
  const tarball = join(dir, packed!.filename)
  const app = join(dir, 'app')
  const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as Manifest
  const pkgDir = join(app, 'node_modules', manifest.name)
  mkdirSync(pkgDir, { recursive: true })
  execFileSync('tar', ['-xzf', tarball, '-C', pkgDir, '--strip-components=1'])
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.2.3', type: 'module', private: true,
    dependencies: { [manifest.name]: `file:${tarball}` } }, null, 2))
  for (const dep of [...Object.keys(manifest.dependencies), ...Object.keys(manifest.peerDependencies), ...extra]) {
    const to = join(app, 'node_modules', dep)
    if (existsSync(to)) continue
    mkdirSync(dirname(to), { recursive: true })
    symlinkSync(join(ROOT, 'node_modules', dep), to, 'dir')
  }
  const binDir = join(app, 'node_modules', '.bin')
  mkdirSync(binDir, { recursive: true })
  for (const [name, file] of Object.entries(manifest.bin)) {
    symlinkSync(join('..', manifest.name, file), join(binDir, name))
    chmodSync(join(pkgDir, file), 0o755) // as npm's bin-links does on install
  }
  return { app, bin: join(binDir, 'smooth'), tarball, files: packed!.files.map((f) => f.path) }
}
