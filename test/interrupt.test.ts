import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { SmoothProcess, dist, killAll, until } from './helpers/proc.js'
import { get, startRequest } from './helpers/http.js'
import { groupPids } from './helpers/group.js'

after(killAll)

test('Ctrl-C during a restart that waits on a 5 s request: the request finishes, one shutdown per generation, the anchor exits last, nothing left', { timeout: 60_000 }, async () => {
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
    // The successor's first worker is ready: the old worker, which holds the request, is draining.
    await p.waitFor('the restart to wait on the old worker', (l) => l.msg === 'worker ready' && l.generation === 2, 30_000, from)
    assert.ok(!finished, 'the request is still in flight at Ctrl-C')
    p.signalGroup('SIGINT')
    const reply = await slow.done
    assert.equal(reply.status, 200, 'the request in flight finished')
    const exit = await p.waitExit(40_000)
    assert.deepEqual(groupPids(p.pid), [], 'the anchor exits last: nothing of the tree outlives it')
    assert.ok(reply.body.length > 0)
    const shutdowns = p.logs.filter((l) => l.msg === 'all servers shutdown')
    assert.deepEqual(shutdowns.map((l) => l.generation).sort(), [1, 2], `one shutdown line per generation:\n${p.tail()}`)
    assert.equal(exit.code, 0, `exit code\n${p.tail()}`)
  } finally {
    p.kill()
  }
})
