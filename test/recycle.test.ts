import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { Agent } from 'node:http'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SmoothProcess, killAll, dist, isAlive, until } from './helpers/proc.js'
import { get } from './helpers/http.js'
import { steadyLoad, type LoadResult } from './helpers/load.js'
import { parseExposition, total } from './helpers/exposition.js'

after(killAll)
const MB = 1024 * 1024

/** Keep-alive requests from `concurrency` loops over one agent, bounded in time; stop() ends them. */
function keepAliveLoad(url: string, concurrency: number, maxMs: number) {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency })
  const result: LoadResult = { ok: 0, failed: 0, errors: [], statuses: {} }
  const deadline = Date.now() + maxMs
  let stopped = false
  const loop = async (): Promise<void> => {
    while (!stopped && Date.now() < deadline) {
      try {
        const r = await get(url, { agent, timeoutMs: 5000 })
        result.statuses[r.status] = (result.statuses[r.status] ?? 0) + 1
        if (r.status === 200) result.ok++
        else result.failed++
      } catch (err) {
        result.failed++
        if (result.errors.length < 20) result.errors.push((err as Error).message)
      }
    }
  }
  const done = Promise.all(Array.from({ length: concurrency }, loop))
  return { result, stop: async () => { stopped = true; await done; agent.destroy(); return result } }
}

const metrics = async (port: number) => parseExposition((await get(`http://127.0.0.1:${port}/metrics`)).body)

test('worker memory is in /metrics with the default settings', { timeout: 30_000 }, async () => {
  const p = new SmoothProcess(dist('test/fixtures/faulty.js'), { WORKERS: '2' })
  try {
    const port = await p.ready()
    const rss = (await metrics(port)).filter((s) => s.name === 'smooth_worker_rss_bytes')
    assert.equal(rss.length, 2, 'one series per worker')
    for (const s of rss) assert.ok(s.value > 10 * MB, `${s.key} = ${s.value}`)
    assert.ok(total(await metrics(port), 'smooth_worker_heap_used_bytes') > 0)
  } finally {
    p.kill()
  }
})

test('a leaking worker is recycled (replacement first, then it drains) with no failed request of a parallel load', { timeout: 60_000 }, async () => {
  const p = new SmoothProcess(dist('test/fixtures/faulty.js'), { WORKERS: '2', SMOOTH_MAX_WORKER_MEMORY: '200MB' })
  try {
    const port = await p.ready()
    const fresh = steadyLoad(`http://127.0.0.1:${port}/`, { concurrency: 2, maxMs: 40_000, timeoutMs: 5000 })
    const kept = keepAliveLoad(`http://127.0.0.1:${port}/`, 2, 40_000)
    const from = p.logs.length
    const leaker = Number((await get(`http://127.0.0.1:${port}/leak?mb=250`)).body)
    const recycled = await p.waitFor('the leaking worker to be recycled', (l) => l.msg === 'worker recycled (memory): a replacement starts, then it drains', 15_000, from)
    assert.equal(recycled.workerPid, leaker)
    assert.ok(Number(recycled.rss) > 200 * MB)
    await until(`worker ${leaker} to exit`, () => !isAlive(leaker), 15_000)
    const afterExit = fresh.result.ok
    await until('requests to go on afterwards', () => fresh.result.ok > afterExit + 20, 10_000)
    const a = await fresh.stop()
    const b = await kept.stop()
    assert.equal(a.failed + b.failed, 0, `failed: ${[...a.errors, ...b.errors].join('; ')}`)
    assert.ok(a.ok > 0 && b.ok > 0)
    // The replacement accepted before the leaker drained.
    const lines = p.logs.slice(from)
    const readyAt = lines.findIndex((l) => l.msg === 'worker ready' && p.logs.indexOf(l) > p.logs.indexOf(recycled))
    assert.ok(readyAt >= 0, 'a replacement became ready')
    const m = await metrics(port)
    assert.equal(total(m, 'smooth_worker_recycles_total', { reason: 'memory' }), 1)
    assert.equal(total(m, 'smooth_drains_forced_total'), 0)
    assert.equal(total(m, 'smooth_worker_crashes_total'), 0)
  } finally {
    p.kill()
  }
})

test('a leak in every new worker is reported and recycling backs off instead of looping', { timeout: 60_000 }, async () => {
  const p = new SmoothProcess(dist('test/fixtures/faulty.js'), { WORKERS: '1', LEAK_AT_START: '200', SMOOTH_MAX_WORKER_MEMORY: '200MB' })
  try {
    const port = await p.ready()
    const load = steadyLoad(`http://127.0.0.1:${port}/`, { concurrency: 1, maxMs: 40_000, timeoutMs: 5000 })
    const report = await p.waitFor('the leak in every new worker to be reported', (l) => /every new worker/.test(l.msg), 30_000)
    assert.ok(Number(report.nextAttemptInMs) >= 4000, `next attempt in ${report.nextAttemptInMs} ms`)
    const n = p.logs.filter((l) => l.msg.startsWith('worker recycled')).length
    await p.waitFor('the recycle after the reported back-off', () => p.logs.filter((l) => l.msg.startsWith('worker recycled')).length > n, Number(report.nextAttemptInMs) + 15_000)
    const recycles = p.logs.filter((l) => l.msg.startsWith('worker recycled'))
    for (let i = 1; i < recycles.length; i++) {
      const gap = Date.parse(String(recycles[i]!.time)) - Date.parse(String(recycles[i - 1]!.time))
      assert.ok(gap >= Number(recycles[i - 1]!.backoffMs), `recycle ${i} came ${gap} ms after the one before, its back-off was ${recycles[i - 1]!.backoffMs} ms`)
    }
    // No request lost in all that: each replacement is ready before the old one drains.
    const r = await load.stop()
    assert.equal(r.failed, 0, r.errors.join('; '))
  } finally {
    p.kill()
  }
})

test('under-pressure maxRssBytes with every worker over it: the worker is recycled, not 503 for ever', { timeout: 60_000 }, async () => {
  const p = new SmoothProcess(dist('test/fixtures/faulty.js'), { WORKERS: '1', SMOOTH_UNDER_PRESSURE: JSON.stringify({ maxRssBytes: 200 * MB, sampleInterval: 100 }) })
  try {
    const port = await p.ready()
    const leaker = Number((await get(`http://127.0.0.1:${port}/leak?mb=250`)).body)
    await until('the leaking worker to shed', async () => (await get(`http://127.0.0.1:${port}/`)).status === 503, 5_000, 50)
    const recycled = await p.waitForMsg('worker recycled (pressure): a replacement starts, then it drains', 15_000)
    assert.equal(recycled.workerPid, leaker)
    await until('a 200 again', async () => (await get(`http://127.0.0.1:${port}/`)).status === 200, 15_000, 100)
    assert.equal(total(await metrics(port), 'smooth_worker_recycles_total', { reason: 'pressure' }), 1)
  } finally {
    p.kill()
  }
})

for (const [key, value, reason, field, min] of [['SMOOTH_MAX_WORKER_REQUESTS', '100', 'requests', 'requests', 100], ['SMOOTH_MAX_WORKER_AGE', '1s', 'age', 'ageMs', 1000]] as const) {
  test(`${key}=${value} recycles the same way, with no failed request`, { timeout: 60_000 }, async () => {
    const p = new SmoothProcess(dist('test/fixtures/faulty.js'), { WORKERS: '2', [key]: value })
    try {
      const port = await p.ready()
      const fresh = steadyLoad(`http://127.0.0.1:${port}/`, { concurrency: 2, maxMs: 40_000, timeoutMs: 5000 })
      const kept = keepAliveLoad(`http://127.0.0.1:${port}/`, 2, 40_000)
      const recycled = await p.waitFor(`a recycle for ${reason}`, (l) => l.msg.startsWith(`worker recycled (${reason})`), 20_000)
      assert.ok(Number(recycled[field]) >= min, `${field} ${recycled[field]}`)
      await until(`worker ${recycled.workerPid} to exit`, () => !isAlive(Number(recycled.workerPid)), 15_000)
      const a = await fresh.stop()
      const b = await kept.stop()
      assert.equal(a.failed + b.failed, 0, `failed: ${[...a.errors, ...b.errors].join('; ')}`)
      assert.ok(total(await metrics(port), 'smooth_worker_recycles_total', { reason }) >= 1)
    } finally {
      p.kill()
    }
  })
}

test('a replacement that cannot start (a broken release on disk): the old worker serves on and recycling backs off', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'smooth-recycle-'))
  const flag = join(dir, 'crash')
  const p = new SmoothProcess(dist('test/fixtures/app.js'), { WORKERS: '1', CRASH_FLAG: flag, SMOOTH_MAX_WORKER_AGE: '1s' })
  try {
    const port = await p.ready()
    const serving = Number((await get(`http://127.0.0.1:${port}/pid`)).body)
    writeFileSync(flag, '1')
    const from = p.logs.length
    const stopped = (): typeof p.logs => p.logs.slice(from).filter((l) => l.msg.startsWith('worker recycle stopped'))
    await p.waitFor('two failed recycles in a row', () => stopped().length >= 2, 20_000, from)
    const [first, second] = stopped()
    assert.equal(second!.inARow, 2)
    assert.ok(Number(second!.nextAttemptInMs) > Number(first!.nextAttemptInMs), 'the wait grows')
    const gap = Date.parse(String(second!.time)) - Date.parse(String(first!.time))
    assert.ok(gap >= Number(first!.nextAttemptInMs), `the second attempt came ${gap} ms after the first, whose back-off was ${first!.nextAttemptInMs} ms`)
    assert.equal(Number((await get(`http://127.0.0.1:${port}/pid`)).body), serving, 'the old worker serves on')
  } finally {
    p.kill()
    rmSync(dir, { recursive: true, force: true })
  }
})
