import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SmoothProcess, dist, killAll } from './helpers/proc.js'
import { get } from './helpers/http.js'
import { steadyLoad } from './helpers/load.js'
import { freePort } from './helpers/ports.js'

after(killAll)
const dir = mkdtempSync(join(tmpdir(), 'smooth-scale-'))
after(() => rmSync(dir, { recursive: true, force: true }))
const CLI = dist('src/cli/smooth.js')
const run = promisify(execFile)

/** `smooth <args>` typed in the app's directory (no --url: it finds the server started there). */
async function smooth(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], { cwd: dir, timeout: 60_000 })
    return { code: 0, out: stdout, err: stderr }
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string }
    return { code: err.code, out: err.stdout, err: err.stderr }
  }
}

interface Status { workers: Array<{ pid: number; state: string }>; workersWanted: number; rollouts: Array<{ kind: string; result: string }> }

test('smooth scale 3 then 1 under load: the worker count follows, no request fails; bad counts refused untouched; SIGTTIN adds one; a restart keeps the count', { timeout: 90_000 }, async () => {
  writeFileSync(join(dir, 'app.mjs'), 'export default async function (app) { app.get("/", async () => process.pid) }\n')
  const port = await freePort()
  const p = new SmoothProcess(CLI, {}, ['start', 'app.mjs', '-i', '1', '--port', String(port), '--host', '127.0.0.1', '--admin', '--graceful'], [], dir)
  const status = async (): Promise<Status> => JSON.parse((await get(`http://127.0.0.1:${port}/debug/admin/status`)).body) as Status
  const ready = (s: Status): number[] => s.workers.filter((w) => w.state === 'ready').map((w) => w.pid)
  try {
    await p.ready()
    const load = steadyLoad(`http://127.0.0.1:${port}/`, { concurrency: 4, maxMs: 60_000 })
    const up = await smooth('scale', '3')
    assert.equal(up.code, 0, up.out + up.err)
    assert.match(up.out, /3 workers ready \(3 wanted\)/)
    assert.equal(ready(await status()).length, 3)
    const down = await smooth('scale', '1')
    assert.equal(down.code, 0, down.out + down.err)
    const after1 = await status()
    assert.equal(ready(after1).length, 1)
    assert.equal(after1.workersWanted, 1)
    const result = await load.stop()
    assert.equal(result.failed, 0, JSON.stringify(result))
    assert.ok(result.ok > 0)
    assert.deepEqual(after1.rollouts.slice(0, 2).map((r) => `${r.kind} ${r.result}`), ['scale success', 'scale success'])

    for (const [args, code] of [[['scale', '-5'], 1], [['scale', '0'], 1], [['scale', 'many'], 2]] as const) {
      const r = await smooth(...args)
      assert.equal(r.code, code, `${args.join(' ')}: ${r.err}`)
      if (code === 1) assert.match(r.err, /^smooth: SMOOTH_SCALE_INVALID: /)
    }
    assert.deepEqual(ready(await status()), ready(after1), 'a refused scale touches nothing')

    p.signal('SIGTTIN')
    await p.waitFor('SIGTTIN scaled to 2', (l) => l.msg === 'workers scaled' && l.to === 2, 20_000)
    assert.equal(ready(await status()).length, 2)
    const restart = await smooth('restart')
    assert.equal(restart.code, 0, restart.out + restart.err)
    assert.match(restart.out, /generation 2, 2 workers ready/)
    assert.equal((await smooth('shutdown')).code, 0)
    assert.equal((await p.waitExit()).code, 0)
  } finally {
    p.kill()
  }
})
