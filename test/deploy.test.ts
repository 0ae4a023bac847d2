import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, symlinkSync, renameSync, copyFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SmoothProcess, until, killAll, isAlive } from './helpers/proc.js'
import { get } from './helpers/http.js'
import { steadyLoad } from './helpers/load.js'
import { writeRelease, writeShellExe } from './helpers/release.js'
import { livePrimary, reloadBySignal, restartBySignal } from './helpers/rollout.js'
import { groupPids } from './helpers/group.js'

after(killAll)
const root = mkdtempSync(join(tmpdir(), 'smooth-deploy-'))
after(() => rmSync(root, { recursive: true, force: true }))

async function body(port: number, path = '/'): Promise<string> {
  return (await get(`http://127.0.0.1:${port}${path}`)).body
}

/** Runs `during` under a light steady load and asserts that no request failed. */
async function underLoad(port: number, during: () => Promise<void>): Promise<void> {
  const load = steadyLoad(`http://127.0.0.1:${port}/`, { concurrency: 4, maxMs: 60_000, maxRequests: 50_000 })
  try {
    await during()
  } finally {
    const r = await load.stop()
    assert.equal(r.failed, 0, `failed requests: ${r.failed} ${r.errors.join('; ')}`)
    assert.ok(r.ok > 0)
  }
}

test('deploy B over A: restart with newExeFilePath, overwrite + restart, symlink switch + reload', { timeout: 120_000 }, async () => {
  const a = writeRelease(join(root, 'a'), 'A')
  const b = writeRelease(join(root, 'b'), 'B')
  const p = new SmoothProcess(a, { SMOOTH_ADMIN_EXE_ALLOW_LIST: root })
  try {
    const port = await p.ready()
    assert.equal(await body(port), 'A')
    // 1. restart onto another entry
    await underLoad(port, async () => {
      const from = p.logs.length
      const r = await get(`http://127.0.0.1:${port}/debug/admin/restart?newExeFilePath=${encodeURIComponent(b)}`)
      assert.equal(r.status, 202, r.body)
      await p.waitFor('B to be live', (l) => l.msg === 'server ready' && l.generation === 2, 30_000, from)
      await until('B answers', async () => (await body(port)) === 'B', 10_000)
    })
    // 2. overwrite the running entry with A and restart with no path: the same path, new code
    copyFileSync(a, b)
    await underLoad(port, async () => {
      await restartBySignal(p)
      assert.equal(await body(port), 'A')
    })
  } finally {
    p.kill()
  }
  // 3. symlinked releases: current -> releases/A, switch to releases/B, reload
  const releases = join(root, 'releases')
  writeRelease(join(releases, 'A'), 'A')
  writeRelease(join(releases, 'B'), 'B')
  const current = join(root, 'current')
  symlinkSync(join(releases, 'A'), current)
  const q = new SmoothProcess(join(current, 'app.mjs'), {})
  try {
    const port = await q.ready()
    assert.equal(await body(port), 'A')
    await underLoad(port, async () => {
      symlinkSync(join(releases, 'B'), `${current}.next`)
      renameSync(`${current}.next`, current)
      await reloadBySignal(q)
      assert.equal(await body(port), 'B')
    })
  } finally {
    q.kill()
  }
})

test('bad B is refused or rolled back; A keeps serving with no failed request and no orphan', { timeout: 180_000 }, async () => {
  const a = writeRelease(join(root, 'good'), 'A')
  const p = new SmoothProcess(a, { SMOOTH_READY_TIMEOUT: '3s', SMOOTH_ADMIN_EXE_ALLOW_LIST: root })
  try {
    const port = await p.ready()
    const treeBefore = groupPids(p.pid)
    const primary = livePrimary(p).pid
    const restartVia = (exe: string) => get(`http://127.0.0.1:${port}/debug/admin/restart?newExeFilePath=${encodeURIComponent(exe)}`)

    await underLoad(port, async () => {
      let r = await restartVia(join(root, 'does-not-exist.mjs'))
      assert.equal(r.status, 400)
      assert.equal(JSON.parse(r.body).code, 'SMOOTH_EXE_NOT_FOUND')
      r = await restartVia(writeShellExe(join(root, 'not-exec.sh'), 'exit 0', false))
      assert.equal(r.status, 400)
      assert.equal(JSON.parse(r.body).code, 'SMOOTH_EXE_NOT_EXECUTABLE')
      assert.deepEqual(groupPids(p.pid), treeBefore, 'nothing was started for a refused path')

      for (const [behaviour, why] of [
        // Its start-up threw (the successor recorded what); a worker killed at readyTimeout (reported by
        // the old primary, or by the successor giving up first); a worker exited.
        ['throws', ['SMOOTH_SUCCESSOR_START_FAILED']],
        ['never-ready', ['SMOOTH_SUCCESSOR_WORKER_DIED', 'SMOOTH_SUCCESSOR_NOT_READY', 'SMOOTH_WORKERS_NEVER_READY']],
        ['dies-after-ready', ['SMOOTH_SUCCESSOR_WORKER_DIED']],
      ] as const) {
        const bad = writeRelease(join(root, `bad-${behaviour}`), 'B', behaviour)
        const from = p.logs.length
        r = await restartVia(bad)
        assert.equal(r.status, 202, r.body)
        const failed = await p.waitFor(`the ${behaviour} restart to fail`, (l) => /^server restarts failed/.test(l.msg), 30_000, from)
        assert.ok((why as readonly string[]).includes(String(failed.code)), `${behaviour}: ${String(failed.code)}`)
        assert.equal(livePrimary(p).pid, primary, 'A is still the live primary')
        await until(`no process but A's tree after the ${behaviour} rollback`, () => groupPids(p.pid).length === treeBefore.length, 15_000)
        assert.equal(await body(port), 'A')
      }
    })
    // A plain executable that exits at once (not a node entry)
    const from = p.logs.length
    const r = await restartVia(writeShellExe(join(root, 'exits.sh'), 'echo bye >&2; exit 4', true))
    assert.equal(r.status, 202)
    const failed = await p.waitFor('the shell exe restart to fail', (l) => /^server restarts failed/.test(l.msg), 30_000, from)
    assert.equal(failed.code, 'SMOOTH_SUCCESSOR_EXITED')
  } finally {
    p.kill()
  }
})

test('a second restart while one runs is refused; SIGUSR1 twice quickly breaks nothing', { timeout: 60_000 }, async () => {
  const a = writeRelease(join(root, 'twice'), 'A', 'slow-start')
  const p = new SmoothProcess(a, {})
  try {
    const port = await p.ready()
    const old = livePrimary(p).pid
    const from = p.logs.length
    // Two signals sent back to back may arrive as one (signals do not queue); both must be harmless.
    p.signal('SIGUSR1')
    p.signal('SIGUSR1')
    await p.waitForMsg('server reloading', 10_000, from)
    p.signal('SIGUSR1')
    await p.waitFor('the second SIGUSR1 to be refused', (l) => l.msg === 'restart refused: a restart is already running', 10_000, from)
    const r = await get(`http://127.0.0.1:${port}/debug/admin/restart`).catch((e: Error) => { throw new Error(`${e.message}\n${p.tail()}`) })
    assert.equal(r.status, 409)
    assert.equal(JSON.parse(r.body).code, 'SMOOTH_ROLLOUT_IN_PROGRESS')
    await p.waitFor('the first restart to finish', (l) => l.msg === 'all servers shutdown' && l.pid === old, 30_000, from)
    assert.equal(p.logs.slice(from).filter((l) => l.msg === 'successor started').length, 1)
    assert.equal(await body(port), 'A')
    await until(`old primary ${old} to exit`, () => !isAlive(old), 10_000)
  } finally {
    p.kill()
  }
})
