import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SmoothProcess, dist, killAll, until, isAlive, type LogLine } from './helpers/proc.js'
import { get } from './helpers/http.js'

after(killAll)
const root = mkdtempSync(join(tmpdir(), 'smooth-races-'))
after(() => rmSync(root, { recursive: true, force: true }))
function app(env: Record<string, string> = {}) {
  return new SmoothProcess(dist('test/fixtures/app.js'), { GRACEFUL: '1', WORKERS: '1', ...env })
}

/** A log line, waited for even after the process the test started (the anchor) is gone. */
async function logLine(p: SmoothProcess, what: string, pred: (l: LogLine) => boolean, timeoutMs: number, from = 0): Promise<LogLine> {
  let hit: LogLine | undefined
  await until(what, () => (hit = p.logs.slice(from).find(pred)) !== undefined, timeoutMs, 20)
  return hit!
}

test('USR1 and TERM back to back, 20 times with gaps of 0-20 ms: every process exits, code 0, no handover after "server shutting down"', { timeout: 120_000 }, async (t) => {
  const outcomes: string[] = []
  // Two rounds at a time (one per core): each is mostly the start-up of three node processes.
  const round = async (i: number): Promise<void> => {
    const gap = Math.round((i * 20) / 19)
    const p = app()
    try {
      await p.ready()
      p.signal('SIGUSR1')
      if (gap > 0) await new Promise((r) => setTimeout(r, gap))
      p.signal('SIGTERM')
      const exit = await p.waitExit(30_000)
      assert.equal(exit.code, 0, `round ${i} (gap ${gap} ms): exit ${JSON.stringify(exit)}\n${p.tail()}`)
      const stopAt = p.logs.findIndex((l) => l.msg === 'server shutting down')
      assert.ok(stopAt >= 0, `round ${i}: the shutdown was logged`)
      const after = p.logs.slice(stopAt)
      assert.ok(!after.some((l) => l.msg === 'live primary changed' || l.msg === 'server restarted'), `round ${i} (gap ${gap} ms): a handover after "server shutting down"\n${p.tail()}`)
      const successor = p.logs.find((l) => l.msg === 'successor started')?.successor as number | undefined
      const pids = [...p.allPids(), ...(successor ? [successor] : [])]
      await until(`round ${i}: every process of the tree to exit (${pids.join(', ')})`, () => pids.every((pid) => !isAlive(pid)), 10_000)
      outcomes.push(successor ? 'successor stopped' : 'no successor')
    } finally {
      p.kill()
    }
  }
  for (let i = 0; i < 20; i += 2) await Promise.all([round(i), round(i + 1)])
  t.diagnostic(`20 rounds: ${outcomes.filter((o) => o === 'successor stopped').length} had started a successor, which stopped with the rest`)
})

test('kill -9 of the anchor, then USR1: the restart completes (spawned directly), a later reload works, the pid file names a live primary', { timeout: 60_000 }, async () => {
  const pidFile = join(root, 'app.pid')
  const p = app({ SMOOTH_PID_FILE: pidFile })
  try {
    const port = await p.ready()
    const primary = p.logs.find((l) => l.msg === 'server ready' && l.role === 'primary')!.pid
    assert.equal(readFileSync(pidFile, 'utf8').trim(), String(p.pid), 'the anchor writes the pid file')
    process.kill(p.pid, 'SIGKILL')
    await logLine(p, 'the primary to notice the anchor is gone', (l) => l.msg === 'anchor is gone' && l.pid === primary, 10_000)
    await until('the pid file to name the primary', () => readFileSync(pidFile, 'utf8').trim() === String(primary), 5_000)
    const st = JSON.parse((await get(`http://127.0.0.1:${port}/debug/admin/status`)).body) as { anchor: string; anchorPid: number | null }
    assert.equal(st.anchor, 'gone')
    assert.equal(st.anchorPid, null)

    const from = p.logs.length
    const asked = Date.now()
    process.kill(primary, 'SIGUSR1')
    const outcome = await logLine(p, 'the restart to be done or refused', (l) => (l.msg === 'server ready' && l.pid !== primary) || /restarts failed|restart refused/.test(l.msg), 20_000, from)
    assert.equal(outcome.msg, 'server ready', `restart: ${outcome.msg}`)
    await logLine(p, 'the old primary to exit', (l) => l.msg === 'all servers shutdown' && l.pid === primary, 20_000, from)
    const next = outcome.pid
    assert.ok(Date.now() - asked < 20_000)
    await until('the pid file to name the new primary', () => readFileSync(pidFile, 'utf8').trim() === String(next), 5_000)
    // Its last log line comes a moment before the process is gone.
    await until('the old primary to exit after its last line', () => !isAlive(primary), 10_000)
    assert.ok(isAlive(next), 'the new primary lives')
    const st2 = JSON.parse((await get(`http://127.0.0.1:${port}/debug/admin/status`)).body) as { anchor: string; generation: number; pid: number }
    assert.deepEqual([st2.anchor, st2.generation, st2.pid], ['gone', 2, next])

    const from2 = p.logs.length
    process.kill(next, 'SIGUSR2')
    await logLine(p, 'the reload after the restart', (l) => l.msg === 'workers reloaded' && l.pid === next, 20_000, from2)
    assert.equal((await get(`http://127.0.0.1:${port}/`)).status, 200)
    process.kill(next, 'SIGTERM')
    await until('the last primary to exit', () => !isAlive(next), 20_000)
    assert.throws(() => readFileSync(pidFile), 'the pid file is removed at the end')
  } finally {
    p.kill()
  }
})
