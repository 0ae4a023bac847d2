import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import autocannon from 'autocannon'
import { SmoothProcess, dist, isAlive, until, killAll } from './helpers/proc.js'
import { get, startRequest } from './helpers/http.js'
import { livePrimary, reloadBySignal, restartBySignal } from './helpers/rollout.js'

after(killAll)

test('10 reloads and 10 restarts under 50 keep-alive connections: no failed request', { timeout: 240_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'smooth-roll-'))
  const pidFile = join(dir, 'smooth.pid')
  const p = new SmoothProcess(dist('test/fixtures/app.js'), { GRACEFUL: '1', WORKERS: '2', SMOOTH_PID_FILE: pidFile })
  try {
    const port = await p.ready()
    const anchor = p.pid
    let done!: (r: autocannon.Result) => void
    const result = new Promise<autocannon.Result>((resolve) => (done = resolve))
    const load = autocannon({ url: `http://127.0.0.1:${port}/`, connections: 50, duration: 180, timeout: 5 }, (_err, r) => done(r))
    const started = Date.now()
    const primaries = new Set([livePrimary(p).pid])
    const workers = new Set(p.workerPids())
    for (let i = 0; i < 10; i++) {
      const fresh = await reloadBySignal(p)
      assert.equal(fresh.length, 2)
      for (const w of fresh) assert.ok(!workers.has(w), 'reload starts new worker pids')
      fresh.forEach((w) => workers.add(w))
      const primary = await restartBySignal(p)
      assert.ok(!primaries.has(primary), `restart ${i + 1} changed the primary pid`)
      primaries.add(primary)
      assert.ok(isAlive(anchor), 'the anchor lives')
      assert.equal(readFileSync(pidFile, 'utf8').trim(), String(anchor), 'the pid file names the anchor')
    }
    // At least 20 s of load in all.
    await until('20 s of load', () => Date.now() - started > 20_000, 30_000, 200)
    load.stop()
    const r = await result
    assert.equal(r.errors, 0, `socket errors: ${r.errors}`)
    assert.equal(r.timeouts, 0, `timeouts: ${r.timeouts}`)
    assert.equal(r.non2xx, 0, `non-2xx: ${r.non2xx}`)
    assert.ok(r['2xx'] > 1000, `requests served: ${r['2xx']}`)
    assert.equal(primaries.size, 11)
    for (const old of [...primaries].slice(0, -1)) await until(`old primary ${old} to be gone`, () => !isAlive(old), 10_000)
  } finally {
    p.kill()
    rmSync(dir, { recursive: true, force: true })
  }
})

test('seed demo: /sleep in flight across SIGUSR1 completes on the old pid; the old generation is gone', async () => {
  const p = new SmoothProcess(dist('examples/demo.js'), { HOST: '127.0.0.1', PORT: '0', WORKERS: '2' })
  try {
    const port = await p.ready()
    const oldPrimary = livePrimary(p).pid
    const oldTree = p.allPids().filter((pid) => pid !== p.pid)
    const sleep = startRequest(`http://127.0.0.1:${port}/sleep?ms=5000`)
    const first = (await sleep.firstChunk).trim()
    const newPrimary = await restartBySignal(p)
    assert.notEqual(newPrimary, oldPrimary)
    const reply = await sleep.done
    assert.equal(reply.status, 200)
    assert.deepEqual(reply.body.trim().split('\n'), [first, first], 'answered wholly by the old worker')
    const pid = Number((await get(`http://127.0.0.1:${port}/pid`)).body)
    assert.ok(!oldTree.includes(pid), '/pid answers from a new worker')
    await until('the old primary and its workers to be gone', () => oldTree.every((x) => !isAlive(x)), 10_000)
    assert.ok(p.logs.some((l) => l.pid === oldPrimary && l.msg === 'server reloading'))
    assert.ok(p.logs.some((l) => l.pid === newPrimary && l.msg === `http server restarted listening on [127.0.0.1:${port}]`))
  } finally {
    p.kill()
  }
})

test('graceful off: restart and reload are refused and nothing changes', async () => {
  const p = new SmoothProcess(dist('test/fixtures/app.js'), { WORKERS: '1' })
  try {
    const port = await p.ready()
    const before = p.allPids()
    for (const sig of ['SIGUSR1', 'SIGUSR2'] as const) {
      const from = p.logs.length
      p.signal(sig)
      await p.waitFor(`${sig} refusal`, (l) => /refused: graceful reload feature is disabled/.test(l.msg), 5000, from)
    }
    const r = await get(`http://127.0.0.1:${port}/debug/admin/restart`)
    assert.equal(r.status, 409)
    assert.equal(JSON.parse(r.body).code, 'SMOOTH_GRACEFUL_DISABLED')
    assert.deepEqual(p.allPids(), before)
  } finally {
    p.kill()
  }
})
