import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SmoothProcess, dist, isAlive, until, killAll } from './helpers/proc.js'
import { parseExposition, total } from './helpers/exposition.js'
import { get } from './helpers/http.js'
import { steadyLoad } from './helpers/load.js'

after(killAll)

test('kill -9 of a worker under steady requests: it is replaced and service continues', async () => {
  const p = new SmoothProcess(dist('test/fixtures/app.js'), { WORKERS: '2' })
  try {
    const port = await p.ready()
    const load = steadyLoad(`http://127.0.0.1:${port}/`, { concurrency: 4, maxMs: 20_000, maxRequests: 20_000 })
    await until('some requests to succeed before the kill', () => load.result.ok > 50, 10_000)
    const victim = p.workerPids()[0]!
    const readyBefore = p.logs.filter((l) => l.msg === 'worker ready').length
    process.kill(victim, 'SIGKILL')
    await p.waitFor('a replacement worker to be ready', (l) => l.msg === 'worker ready' && Number(l.workerPid) !== victim && p.logs.filter((x) => x.msg === 'worker ready').length > readyBefore, 10_000)
    const okAtReplacement = load.result.ok
    await until('requests to keep succeeding after the replacement', () => load.result.ok > okAtReplacement + 100, 10_000)
    const r = await load.stop()
    // Only requests in flight on the killed worker can fail: at most one per client loop.
    assert.ok(r.failed <= 4, `failed ${r.failed}: ${r.errors.join('; ')}`)
    assert.ok(!isAlive(victim))
    assert.ok(p.logs.some((l) => l.msg === 'worker died' && Number(l.workerPid) === victim && l.signal === 'SIGKILL'))
    // What could not be saved is counted too.
    assert.equal(total(parseExposition((await get(`http://127.0.0.1:${port}/metrics`)).body), 'smooth_worker_crashes_total'), 1)
  } finally {
    p.kill()
  }
})

test('a worker that crashes at start-up repeatedly is reported, backs off, and recovers when fixed', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'smooth-crash-'))
  const flag = join(dir, 'crash')
  const p = new SmoothProcess(dist('test/fixtures/app.js'), { WORKERS: '1', CRASH_FLAG: flag })
  try {
    await p.ready()
    writeFileSync(flag, '1')
    process.kill(p.workerPids()[0]!, 'SIGKILL')
    const loop = await p.waitForMsg(/^worker crash loop/, 20_000)
    // Back-off, not a spin: from here the next attempt is seconds away.
    const diedAtLoop = p.logs.filter((l) => l.msg === 'worker died').length
    assert.ok(Number(loop.nextAttemptInMs) >= 2000, `next attempt in ${loop.nextAttemptInMs} ms`)
    assert.ok(diedAtLoop <= 6, `${diedAtLoop} deaths before the crash loop was reported`)
    rmSync(flag)
    const from = p.logs.length
    await p.waitForMsg('worker ready', Number(loop.nextAttemptInMs) + 10_000, from)
  } finally {
    p.kill()
    rmSync(dir, { recursive: true, force: true })
  }
})

test('workers that never start: the primary gives up with a clear error and exit code 1', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'smooth-crash-'))
  const flag = join(dir, 'crash')
  writeFileSync(flag, '1')
  const p = new SmoothProcess(dist('test/fixtures/app.js'), { WORKERS: '2', CRASH_FLAG: flag })
  try {
    const exit = await p.waitExit(30_000)
    assert.equal(exit.code, 1)
    assert.match(p.stderr, /SMOOTH_WORKERS_NEVER_READY/)
    await until('no process of the tree left', () => p.allPids().every((pid) => !isAlive(pid)), 5000)
  } finally {
    p.kill()
    rmSync(dir, { recursive: true, force: true })
  }
})
