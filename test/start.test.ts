import { test, after, before } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SmoothProcess, killAll } from './helpers/proc.js'
import { installPacked } from './helpers/installed.js'
import { get, startRequest } from './helpers/http.js'
import { freePort } from './helpers/ports.js'

after(killAll)
const root = mkdtempSync(join(tmpdir(), 'smooth-start-'))
after(() => rmSync(root, { recursive: true, force: true }))
let app = ''
let bin = ''
before(() => ({ app, bin } = installPacked(root)))
const run = promisify(execFile)

/** `smooth <args>` typed in the app's directory, as `npx smooth …` would run it. */
async function smooth(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [bin, ...args], { cwd: app, timeout: 60_000 })
    return { code: 0, out: stdout, err: stderr }
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string }
    return { code: err.code, out: err.stdout, err: err.stderr }
  }
}

const PLUGIN = `export const options = { trustProxy: true }
export default async function (app) {
  app.get('/', async (request) => request.ip)
  app.get('/slow', async () => { await new Promise((r) => setTimeout(r, 1500)); return 'slow done' })
}
`
const FACTORY = `import Fastify from 'fastify'
export async function buildApp() {
  const app = Fastify({ trustProxy: true })
  app.get('/', async (request) => request.ip)
  app.get('/slow', async () => { await new Promise((r) => setTimeout(r, 1500)); return 'slow done' })
  return app
}
`

/** The acceptance: serve on two workers, trustProxy honoured, `smooth restart` (no flags) while a slow request finishes. */
async function startRestart(file: string, source: string): Promise<void> {
  writeFileSync(join(app, file), source)
  const port = await freePort()
  const p = new SmoothProcess(bin, {}, ['start', file, '-i', '2', '--port', String(port), '--host', '127.0.0.1', '--admin', '--graceful'], [], app)
  try {
    await p.ready()
    assert.equal(p.workerPids().length, 2, 'two workers')
    const url = `http://127.0.0.1:${port}`
    assert.equal((await get(`${url}/`, { headers: { 'X-Forwarded-For': '203.0.113.9' } })).body, '203.0.113.9')
    const slow = startRequest(`${url}/slow`)
    await new Promise((r) => setTimeout(r, 200)) // the request is in a worker before the restart begins
    const restart = await smooth('restart')
    assert.equal(restart.code, 0, restart.out + restart.err)
    assert.match(restart.out, /restart done in [\d.]+ s, healthy \(generation 2, 2 workers ready\)/)
    const r = await slow.done
    assert.equal(r.status, 200)
    assert.equal(r.body, 'slow done')
    assert.equal((await get(`${url}/`, { headers: { 'X-Forwarded-For': '203.0.113.9' } })).body, '203.0.113.9')
    assert.match((await smooth('status')).out, /generation 2/)
    assert.equal((await smooth('shutdown')).code, 0)
    assert.equal((await p.waitExit()).code, 0)
  } finally {
    p.kill()
  }
}

test('smooth start with a fastify-cli plugin: exported options honoured, restart with no flags while a slow request finishes', { timeout: 90_000 }, () =>
  startRestart('plugin.mjs', PLUGIN))

test('smooth start with a factory module (buildApp): the same', { timeout: 90_000 }, () => startRestart('factory.mjs', FACTORY))

test('smooth start refuses bad input with one coded line and exit 1 or 2', { timeout: 60_000 }, async () => {
  writeFileSync(join(app, 'nothing.mjs'), 'export const x = 1\n')
  writeFileSync(join(app, 'throws.mjs'), 'export default async function (app) { app.get("/", () => 1); throw new Error("db down") }\n')
  writeFileSync(join(app, 'factory-as-plugin.mjs'), 'import Fastify from "fastify"\nexport default async function (app, opts) { const f = Fastify(); f.get("/", () => 1); return f }\n')
  writeFileSync(join(app, 'owned.mjs'), 'export const options = { logger: true }\nexport default async function (app) {}\n')
  const cases: Array<[string[], number, string]> = [
    [['start', 'missing.mjs'], 1, 'SMOOTH_ENTRY_NOT_FOUND'],
    [['start', 'nothing.mjs'], 1, 'SMOOTH_ENTRY_NO_EXPORT'],
    [['start', 'throws.mjs'], 1, 'SMOOTH_ENTRY_FAILED'],
    [['start', 'factory-as-plugin.mjs'], 1, 'SMOOTH_FACTORY_AS_PLUGIN'],
    [['start', 'owned.mjs'], 1, 'SMOOTH_FASTIFY_OPTION_OWNED'],
    [['start', 'nothing.mjs', '--frobnicate'], 2, 'SMOOTH_CLI_USAGE'],
    [['start', 'nothing.mjs', '-i', '0'], 2, 'SMOOTH_CLI_USAGE'],
  ]
  for (const [args, code, smoothCode] of cases) {
    const r = await smooth(...args)
    assert.equal(r.code, code, `${args.join(' ')}: ${r.err}`)
    const lines = r.err.trim().split('\n')
    assert.equal(lines.length, 1, `one line for ${args.join(' ')}: ${r.err}`)
    assert.match(lines[0]!, new RegExp(`^smooth: ${smoothCode}: `))
  }
})
