import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SmoothProcess, dist, killAll, until } from './helpers/proc.js'
import { get } from './helpers/http.js'
import { freePort } from './helpers/ports.js'

after(killAll)
const dir = mkdtempSync(join(tmpdir(), 'smooth-dev-'))
after(() => rmSync(dir, { recursive: true, force: true }))
const app = (answer: string): string => `export default async function (app) { app.get('/', async () => ${JSON.stringify(answer)}) }\n`

test('smooth dev: an edit serves within 3 s; a syntax error is printed while the previous code keeps answering; the fix serves', { timeout: 60_000 }, async () => {
  writeFileSync(join(dir, 'app.mjs'), app('v1'))
  const port = await freePort()
  const p = new SmoothProcess(dist('src/cli/smooth.js'), {}, ['dev', 'app.mjs', '--port', String(port)], [], dir)
  const url = `http://127.0.0.1:${port}/`
  const answers = async (body: string, what: string, ms: number): Promise<void> =>
    until(what, async () => (await get(url).catch(() => undefined))?.body === body, ms)
  try {
    await p.ready()
    await p.waitForMsg('dev: watching for changes')
    assert.equal((await get(url)).body, 'v1')

    writeFileSync(join(dir, 'app.mjs'), app('v2'))
    await answers('v2', 'the edit to be served', 3_000)

    const from = p.logs.length
    writeFileSync(join(dir, 'app.mjs'), 'export default async function (app) { app.get("/", async () => "v3" }\n')
    const failed = p.waitFor('the broken edit reported', (l) => /^dev: your change does not start/.test(l.msg), 20_000, from)
    // Until the failure is reported, and after it, the previous code answers every request.
    for (let i = 0; !(await Promise.race([failed.then(() => true), Promise.resolve(false)])) && i < 400; i++) {
      const r = await get(url)
      assert.equal(r.status, 200)
      assert.equal(r.body, 'v2')
    }
    await failed
    assert.match(p.stderr, /smooth: SMOOTH_ENTRY_FAILED: .*SyntaxError/)
    assert.equal((await get(url)).body, 'v2')

    writeFileSync(join(dir, 'app.mjs'), app('v3'))
    await answers('v3', 'the fix to be served', 10_000)
  } finally {
    p.kill()
  }
})
