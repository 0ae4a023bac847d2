import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SmoothProcess, dist, killAll } from './helpers/proc.js'
import { get } from './helpers/http.js'
import { steadyLoad } from './helpers/load.js'
import { livePrimary } from './helpers/rollout.js'
import { noneFailed } from './helpers/rollout.js'

after(killAll)
const root = mkdtempSync(join(tmpdir(), 'smooth-surge-'))
after(() => rmSync(root, { recursive: true, force: true }))

/** The primary's child processes, from /proc (what exists, whatever the primary thinks). */
function children(pid: number): number {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).length
  } catch {
    return 0
  }
}

/**
 * Samples, until `done` settles, the primary's processes (from /proc) and its ready workers (from the
 * admin status); returns the extremes seen.
 */
async function sample(port: number, primary: number, done: Promise<unknown>): Promise<{ maxProcs: number; minReady: number; samples: number }> {
  let finished = false
  void done.finally(() => { finished = true })
  let maxProcs = 0
  let minReady = Infinity
  let samples = 0
  while (!finished) {
    const before = children(primary)
    const r = await get(`http://127.0.0.1:${port}/debug/admin/status`, { timeoutMs: 5000 })
    const after = children(primary)
    const workers = (JSON.parse(r.body) as { workers: Array<{ state: string }> }).workers
    maxProcs = Math.max(maxProcs, before, after, workers.length)
    minReady = Math.min(minReady, workers.filter((w) => w.state === 'ready').length)
    samples++
  }
  return { maxProcs, minReady, samples }
}

test('surge 2 of 4 workers: a reload under load never runs more than N + surge processes nor fewer than N ready', { timeout: 60_000 }, async () => {
  const p = new SmoothProcess(dist('test/fixtures/app.js'), { GRACEFUL: '1', WORKERS: '4', SMOOTH_SURGE: '2' })
  try {
    const port = await p.ready()
    const primary = livePrimary(p).pid
    const load = steadyLoad(`http://127.0.0.1:${port}/`, { concurrency: 4, maxMs: 40_000 })
    for (let i = 0; i < 2; i++) {
      const from = p.logs.length
      p.signal('SIGUSR2')
      const finished = p.waitFor('reload to finish', (l) => l.msg === 'workers reloaded' || /^reload (stopped|refused)/.test(l.msg), 30_000, from)
      const seen = await sample(port, primary, finished)
      assert.equal((await finished).msg, 'workers reloaded')
      assert.ok(seen.samples >= 3, `sampled ${seen.samples} times`)
      assert.ok(seen.maxProcs <= 6, `at most N + surge = 6 processes: saw ${seen.maxProcs}`)
      assert.ok(seen.minReady >= 4, `never fewer than N = 4 ready: saw ${seen.minReady}`)
      // Two lanes: 4 replacements, 2 of them side by side.
      assert.equal(p.logs.slice(from).filter((l) => l.msg === 'reload progress').length, 4)
    }
    await noneFailed(load)
  } finally {
    p.kill()
  }
})

test('surge = N: a reload whose new workers all fail rolls back, the old workers keep serving', { timeout: 60_000 }, async () => {
  const flag = join(root, 'crash')
  const p = new SmoothProcess(dist('test/fixtures/app.js'), { GRACEFUL: '1', WORKERS: '2', SMOOTH_SURGE: '100%', CRASH_FLAG: flag })
  try {
    const port = await p.ready()
    const primary = livePrimary(p).pid
    const before = p.workerPids().sort()
    const load = steadyLoad(`http://127.0.0.1:${port}/`, { concurrency: 4, maxMs: 40_000 })
    writeFileSync(flag, '')
    const from = p.logs.length
    p.signal('SIGUSR2')
    const finished = p.waitFor('reload to stop', (l) => l.msg === 'workers reloaded' || /^reload (stopped|refused)/.test(l.msg), 30_000, from)
    const seen = await sample(port, primary, finished)
    assert.equal((await finished).msg, 'reload stopped: old workers keep serving')
    assert.ok(seen.maxProcs <= 4, `at most N + surge = 4 processes: saw ${seen.maxProcs}`)
    assert.ok(seen.minReady >= 2, `never fewer than N = 2 ready: saw ${seen.minReady}`)
    const status = JSON.parse((await get(`http://127.0.0.1:${port}/debug/admin/status`)).body) as { workers: Array<{ pid: number; state: string }>; rollouts: Array<{ result: string; error?: { code: string } }> }
    assert.deepEqual(status.workers.filter((w) => w.state === 'ready').map((w) => w.pid).sort(), before)
    assert.equal(status.rollouts[0]?.error?.code, 'SMOOTH_WORKER_EXITED_BEFORE_READY')
    await noneFailed(load)
  } finally {
    p.kill()
  }
})
