import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SmoothProcess, killAll, ROOT } from './helpers/proc.js'
import { installPacked } from './helpers/installed.js'
import { get } from './helpers/http.js'

after(killAll)
const root = mkdtempSync(join(tmpdir(), 'smooth-package-'))
after(() => rmSync(root, { recursive: true, force: true }))

const APP_TS = `import { server, SmoothError, type ServerSettings } from 'smooth-runtime'
import type { FastifyInstance } from 'fastify'

async function routes(app: FastifyInstance): Promise<void> {
  app.get('/', async (request) => ({ hello: 'installed', ip: request.ip }))
}
const settings: ServerSettings = { address: process.env.ADDRESS ?? '127.0.0.1:0', workers: 1 }
const s = server()
s.setConfig(settings).register(routes)
try {
  await s.start()
} catch (err) {
  if (err instanceof SmoothError) console.error(err.code)
  throw err
}
`

test('the packed tarball installs into a fresh app without network; a strict TypeScript app type-checks against it and runs', { timeout: 60_000 }, async () => {
  const { app, files } = installPacked(root, ['@types/node'])
  assert.ok(files.includes('dist/src/index.js') && files.includes('dist/src/index.d.ts') && files.includes('dist/src/cli/smooth.js'), 'dist/ is in the tarball')
  assert.ok(!files.some((f) => f.startsWith('dist/test/') || f.startsWith('src/')), 'tests and sources stay out')
  assert.ok(files.includes('dist/src/config/settings-validate.cjs') && files.includes('dist/src/config/settings-validate-coercing.cjs'), 'the config validators compiled at build time are in the tarball')
  writeFileSync(join(app, 'app.ts'), APP_TS)
  // Strict, NodeNext, and the library's declarations checked too (no skipLibCheck).
  writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({ compilerOptions: { strict: true, module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', skipLibCheck: false, noEmitOnError: true, types: ['node'] }, files: ['app.ts'] }))
  try {
    execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', app], { cwd: app, encoding: 'utf8' })
  } catch (err) {
    assert.fail(`tsc: ${(err as { stdout: string }).stdout}`)
  }
  const p = new SmoothProcess(join(app, 'app.js'), {}, [], [], app)
  try {
    const port = await p.ready()
    const r = await get(`http://127.0.0.1:${port}/`)
    assert.equal(r.status, 200)
    assert.equal(JSON.parse(r.body).hello, 'installed')
  } finally {
    p.kill()
  }
})
