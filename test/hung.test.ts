import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { SmoothProcess, killAll, dist, isAlive, until } from './helpers/proc.js'
import { get } from './helpers/http.js'
import { steadyLoad } from './helpers/load.js'
import { parseExposition, total } from './helpers/exposition.js'

after(killAll)

/** Sends `/hang` (it never gets an answer) and returns the pid of the worker it blocked. */
async function hangOne(p: SmoothProcess, port: number): Promise<number> {
  const from = p.logs.length
  get(`http://127.0.0.1:${port}/hang`, { timeoutMs: 60_000 }).catch(() => { /* its worker is killed */ })
  const hung = await p.waitFor('a worker to start hanging', (l) => l.msg === 'fixture: hanging', 10_000, from)
  return hung.pid
}

async function statusOf(port: number): Promise<{ workers: Array<{ pid: number; state: string; lastSeenMs?: number }>; counters: Record<string, number> }> {
  return JSON.parse((await get(`http://127.0.0.1:${port}/debug/admin/status`)).body)
}

test('a worker stuck in while (true): other requests are answered, /status says so, it is killed and replaced within workerTimeout + 5 s', { timeout: 60_000 }, async () => {
  const p = new SmoothProcess(dist('test/fixtures/faulty.js'), { WORKERS: '2', SMOOTH_WORKER_TIMEOUT: '2' })
  try {
    const port = await p.ready()
    const load = steadyLoad(`http://127.0.0.1:${port}/`, { concurrency: 2, maxMs: 30_000, timeoutMs: 5000 })
    const from = p.logs.length
    const hung = await hangOne(p, port)
    const hungAt = Date.now()
    await until('/status to show the hung worker as unresponsive', async () =>
      (await statusOf(port)).workers.some((w) => w.pid === hung && w.state === 'unresponsive'), 5_000, 100)
    const killed = await p.waitFor('the hung worker to be killed', (l) => l.msg === 'worker not responding (event loop blocked): killed' && l.workerPid === hung, 7_000, from)
    assert.equal(killed.timeoutMs, 2000)
    assert.ok(Number(killed.silentForMs) >= 2000)
    await p.waitFor('a replacement to be ready', (l) => l.msg === 'worker ready' && l.workerPid !== hung && p.logs.indexOf(l) > p.logs.indexOf(killed), 2000 + 5000 - (Date.now() - hungAt))
    assert.ok(!isAlive(hung))
    const ok = load.result.ok
    await until('requests to go on after the replacement', () => load.result.ok > ok + 20, 10_000)
    const r = await load.stop()
    // Only a connection the hung worker had accepted in the same turn as /hang can be lost with it
    // (libuv accepts what is queued before it runs the handlers): at most one per client loop.
    assert.ok(r.failed <= 2, `failed ${r.failed}: ${r.errors.join('; ')}`)
    assert.ok(r.errors.every((e) => /ECONNRESET|socket hang up/.test(e)), r.errors.join('; '))
    const m = parseExposition((await get(`http://127.0.0.1:${port}/metrics`)).body)
    assert.equal(total(m, 'smooth_worker_timeouts_total'), 1)
    assert.equal(total(m, 'smooth_worker_crashes_total'), 0, 'a worker killed for a timeout is not a crash')
    assert.equal((await statusOf(port)).counters.workerTimeouts, 1)
  } finally {
    p.kill()
  }
})

test('a reload and a SIGTERM while a worker hangs end within their timeouts; the kill counts as forced in the log and the metrics', { timeout: 60_000 }, async () => {
  // workerTimeout longer than the test: the drain deadline alone must end the hung worker.
  const p = new SmoothProcess(dist('test/fixtures/faulty.js'), {
    WORKERS: '2', SMOOTH_WORKER_TIMEOUT: '60', SMOOTH_GRACEFUL_TIMEOUT: '2', SMOOTH_GRACEFUL_SHUTDOWN_TIMEOUT: '2',
  })
  try {
    const port = await p.ready()
    let hung = await hangOne(p, port)
    let from = p.logs.length
    const reloadAt = Date.now()
    p.signal('SIGUSR2')
    const reloaded = await p.waitFor('the reload to end', (l) => l.msg === 'workers reloaded' || /^reload (stopped|refused)/.test(l.msg), 30_000, from)
    assert.equal(reloaded.msg, 'workers reloaded')
    // Before: the hung worker's drain alone took gracefulTimeout + 10 s (the hard kill).
    assert.ok(Date.now() - reloadAt < 2000 + 10_000, `the reload took ${Date.now() - reloadAt} ms`)
    const killed = p.logs.slice(from).find((l) => l.msg === 'worker not responding at its drain deadline: killed')
    assert.equal(killed?.workerPid, hung, 'the hung worker was killed at its drain deadline')
    assert.ok(!isAlive(hung))
    const m = parseExposition((await get(`http://127.0.0.1:${port}/metrics`)).body)
    assert.ok(total(m, 'smooth_drains_forced_total') >= 1, 'the killed drain is counted as forced')

    hung = await hangOne(p, port)
    from = p.logs.length
    const termAt = Date.now()
    p.signal('SIGTERM')
    const exit = await p.waitExit(2000 + 10_000)
    assert.equal(exit.code, 0)
    assert.ok(Date.now() - termAt < 2000 + 10_000, `the shutdown took ${Date.now() - termAt} ms`)
    const last = p.logs.slice(from).find((l) => l.msg === 'all servers shutdown')
    assert.ok(Number(last?.forced) >= 1, `forced ${last?.forced} in the shutdown line`)
    assert.ok(!isAlive(hung))
  } finally {
    p.kill()
  }
})
