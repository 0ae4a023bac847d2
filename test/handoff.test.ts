import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SmoothProcess, dist, killAll } from './helpers/proc.js'
import { reloadBySignal, restartBySignal } from './helpers/rollout.js'
import { KeepAliveConnection, type Failure } from './helpers/keepalive.js'
import { get } from './helpers/http.js'

after(killAll)

/** Each connection asks GET /pid every `everyMs` (jittered) until stopped; it records its answers and how it ended. */
function ticker(c: KeepAliveConnection, everyMs: number) {
  const pids: number[] = []
  const failures: Failure[] = []
  let stopped = false
  const done = (async () => {
    await new Promise((r) => setTimeout(r, Math.random() * everyMs))
    while (!stopped && !c.ended) {
      try {
        const r = await c.request('GET', '/pid')
        pids.push(Number(r.body))
      } catch (err) {
        if (!stopped) failures.push((err as { failure: Failure }).failure)
        return
      }
      await new Promise((r) => setTimeout(r, everyMs * (0.5 + Math.random())))
    }
  })()
  return { pids, failures, stop: async () => { stopped = true; await done } }
}

async function metric(port: number, name: string): Promise<number> {
  const text = (await get(`http://127.0.0.1:${port}/metrics`)).body
  return text.split('\n').filter((l) => l.startsWith(name)).reduce((n, l) => n + Number(l.split(' ').pop()), 0)
}

test('hand-off: 200 idle keep-alive connections survive 2 reloads and 2 restarts on their own local ports, answered by new pids', { timeout: 300_000 }, async () => {
  const p = new SmoothProcess(dist('test/fixtures/handoff.js'), { WORKERS: '2', SMOOTH_METRICS_ACCESS: 'open' })
  try {
    const port = await p.ready()
    const conns = await Promise.all(Array.from({ length: 200 }, () => KeepAliveConnection.open(port)))
    const tickers = conns.map((c) => ticker(c, 300))
    const firstWorkers = new Set(p.workerPids())
    await reloadBySignal(p, 90_000)
    await restartBySignal(p, 90_000)
    await reloadBySignal(p, 90_000)
    await restartBySignal(p, 90_000)
    // Every connection asks again after the last rollout, on the workers of the last generation.
    const counts = tickers.map((t) => t.pids.length)
    await new Promise((r) => setTimeout(r, 1_000))
    await Promise.all(tickers.map((t) => t.stop()))
    const failed = tickers.flatMap((t) => t.failures)
    assert.deepEqual(failed, [], 'no request failed')
    const closed = conns.filter((c) => c.closedByServer)
    assert.equal(closed.length, 0, `connections closed by the server: ${closed.length} of ${conns.length}`)
    const lastWorkers = new Set(p.workerPids())
    tickers.forEach((t, i) => {
      assert.ok(t.pids.length > counts[i]!, `connection ${i} answered after the last rollout`)
      const last = t.pids[t.pids.length - 1]!
      assert.ok(lastWorkers.has(last), `connection ${i} (local port ${conns[i]!.localPort}) answered by a current worker (${last})`)
      assert.ok(!firstWorkers.has(last))
    })
    assert.ok(await metric(port, 'smooth_connections_handed_over_total') >= 200, 'hand-offs counted')
    // Each rollout's record says what its drains did with the connections.
    for (const msg of ['workers reloaded', 'server restarted']) {
      const recs = p.logs.filter((l) => l.msg === msg).map((l) => l.connections as { handedOver: number; closed: Record<string, number> } | undefined)
      assert.equal(recs.length, 2, msg)
      for (const c of recs) assert.ok((c?.handedOver ?? 0) > 0, `${msg}: connections handed over in the record (${JSON.stringify(c)})`)
    }
    // A shutdown hands nothing over: every connection is closed, and the tree exits.
    const tracked = conns.slice(0, 20)
    p.signal('SIGTERM')
    assert.equal((await p.waitExit(30_000)).code, 0)
    assert.ok(tracked.every((c) => c.ended), 'shutdown closed every connection')
    for (const c of conns) c.close()
  } finally {
    p.kill()
  }
})

test('hand-off off: a reload closes the idle keep-alive connections (clients reconnect)', { timeout: 120_000 }, async () => {
  const p = new SmoothProcess(dist('test/fixtures/handoff.js'), { WORKERS: '2', HAND_OFF: '0' })
  try {
    const port = await p.ready()
    const conns = await Promise.all(Array.from({ length: 50 }, () => KeepAliveConnection.open(port)))
    await Promise.all(conns.map((c) => c.request('GET', '/pid')))
    await reloadBySignal(p, 90_000)
    await new Promise((r) => setTimeout(r, 200))
    assert.equal(conns.filter((c) => c.closedByServer).length, conns.length, 'every idle connection was closed by its draining worker')
    for (const c of conns) c.close()
  } finally {
    p.kill()
  }
})

test('hand-off race: POSTs with ids sent at random instants around reloads: no reset, no empty reply, each id seen once', { timeout: 300_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'smooth-handoff-'))
  const ids = join(dir, 'ids')
  const p = new SmoothProcess(dist('test/fixtures/handoff.js'), { WORKERS: '2', IDS_FILE: ids })
  try {
    const port = await p.ready()
    const conns = await Promise.all(Array.from({ length: 40 }, () => KeepAliveConnection.open(port)))
    let next = 0
    const answered = new Map<string, number>()
    const failures: string[] = []
    let stop = false
    const loops = conns.map(async (c) => {
      while (!stop) {
        const id = String(++next)
        try {
          const r = await c.request('POST', '/id', JSON.stringify({ id }))
          assert.equal(r.body.trim().split(' ')[1], id)
          answered.set(id, (answered.get(id) ?? 0) + 1)
        } catch (err) {
          failures.push(`${id}: ${(err as { failure?: string }).failure ?? (err as Error).message}`)
          return
        }
        // Random pauses, some of them 0: the next request races the drain.
        await new Promise((r) => setTimeout(r, Math.random() < 0.2 ? 0 : Math.random() * 100))
      }
    })
    for (let i = 0; i < 3; i++) await reloadBySignal(p, 90_000)
    stop = true
    await Promise.all(loops)
    assert.deepEqual(failures, [], 'no request failed')
    assert.ok(answered.size > 500, `attempts: ${answered.size}`)
    const seen = readFileSync(ids, 'utf8').trim().split('\n')
    const once = new Map<string, number>()
    for (const id of seen) once.set(id, (once.get(id) ?? 0) + 1)
    assert.deepEqual([...once].filter(([, n]) => n !== 1), [], 'no id seen twice by the servers')
    assert.equal(once.size, answered.size, 'every id answered was seen once, none lost')
    assert.equal(conns.filter((c) => c.closedByServer).length, 0, 'no connection closed by the server')
    for (const c of conns) c.close()
  } finally {
    p.kill()
    rmSync(dir, { recursive: true, force: true })
  }
})
