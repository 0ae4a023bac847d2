import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { SmoothProcess, dist, killAll, until } from './helpers/proc.js'
import { get, startRequest } from './helpers/http.js'
import { groupPids } from './helpers/group.js'

after(killAll)

test('Ctrl-C during a restart that waits on a 5 s request: the request finishes, one shutdown, the anchor exits last with 0, nothing left', { timeout: 60_000 }, async () => {
  const p = new SmoothProcess(dist('test/fixtures/app.js'), { GRACEFUL: '1', WORKERS: '1' })
  try {
    const port = await p.ready()
    const slow = startRequest(`http://127.0.0.1:${port}/slow?ms=5000`)
    let finished = false
    void slow.done.then(() => (finished = true), () => {})
    // One worker serves both: the status request itself and the slow one make 2.
    await until('the request to be in flight', async () =>
      (JSON.parse((await get(`http://127.0.0.1:${port}/debug/admin/status`)).body) as { workers: Array<{ inflight?: number }> }).workers.some((w) => w.inflight === 2), 5_000)
    const from = p.logs.length
    p.signal('SIGUSR1')
    // The restart is under way (its successor starting) while the old worker holds the request.
    await p.waitFor('the successor to start', (l) => l.msg === 'successor started', 30_000, from)
    assert.ok(!finished, 'the request is still in flight at Ctrl-C')
    p.signalGroup('SIGINT')
    const reply = await slow.done
    assert.equal(reply.status, 200, 'the request in flight finished')
    const exit = await p.waitExit(40_000)
    assert.deepEqual(groupPids(p.pid), [], 'the anchor exits last: nothing of the tree outlives it')
    assert.ok(reply.body.length > 0)
    const shutdowns = p.logs.filter((l) => l.msg === 'all servers shutdown')
    // One shutdown: the serving generation says it once; the successor, stopped while it was still
    // starting (the shutdown wins over the restart), says it at most once.
    const perGeneration = (g: number): number => shutdowns.filter((l) => l.generation === g).length
    assert.equal(perGeneration(1), 1, `one shutdown line for generation 1:\n${p.tail()}`)
    assert.ok(perGeneration(2) <= 1, `at most one shutdown line for generation 2:\n${p.tail()}`)
    assert.equal(exit.code, 0, `exit code\n${p.tail()}`)
  } finally {
    p.kill()
  }
})
