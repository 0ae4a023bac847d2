import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SmoothProcess, killAll } from './helpers/proc.js'
import { get } from './helpers/http.js'
import { steadyLoad } from './helpers/load.js'
import { writeRelease } from './helpers/release.js'
import { reloadBySignal, restartBySignal } from './helpers/rollout.js'
import { parseExposition, duplicates, total } from './helpers/exposition.js'

after(killAll)
const root = mkdtempSync(join(tmpdir(), 'smooth-metrics-'))
after(() => rmSync(root, { recursive: true, force: true }))

/** The counters that must never go down from one scrape to the next, whichever generation answers. */
const MONOTONE = ['smooth_http_requests_total', 'smooth_worker_cpu_seconds_total', 'smooth_connections_accepted_total', 'smooth_http_request_duration_seconds_count', 'smooth_rollouts_total', 'smooth_requests_shed_total']

test('scrapes during reloads and a restart: 200 in bounded time, no duplicate series, counters never go down', { timeout: 90_000 }, async () => {
  const p = new SmoothProcess(writeRelease(join(root, 'scrape'), 'A'), {})
  try {
    const port = await p.ready()
    const load = steadyLoad(`http://127.0.0.1:${port}/`, { concurrency: 2, maxMs: 60_000 })
    const scrapes: Array<{ status: number; text: string }> = []
    let scraping = true
    const scraper = (async () => {
      while (scraping && scrapes.length < 2000) {
        // A bounded wait: a scrape that hangs fails here, naming what it waited for.
        const r = await get(`http://127.0.0.1:${port}/metrics`, { timeoutMs: 5000 })
        scrapes.push({ status: r.status, text: r.body })
      }
    })()
    await reloadBySignal(p)
    await restartBySignal(p)
    await reloadBySignal(p)
    const result = await load.stop()
    scraping = false
    await scraper
    // One more after the load stopped: it must have counted every request the load saw answered.
    const final = await get(`http://127.0.0.1:${port}/metrics`, { timeoutMs: 5000 })
    scrapes.push({ status: final.status, text: final.body })
    assert.equal(result.failed, 0, `failed requests: ${result.errors.join('; ')}`)

    assert.ok(scrapes.length >= 10, `only ${scrapes.length} scrapes`)
    let during = 0
    let previous: Record<string, number> | undefined
    for (const [i, s] of scrapes.entries()) {
      assert.equal(s.status, 200, `scrape ${i}: ${s.text.slice(0, 200)}`)
      const samples = parseExposition(s.text)
      assert.deepEqual(duplicates(samples), [], `scrape ${i} has duplicate series`)
      if (total(samples, 'smooth_workers', { state: 'draining' }) + total(samples, 'smooth_workers', { state: 'starting' }) > 0) during++
      const now = Object.fromEntries(MONOTONE.map((m) => [m, total(samples, m)]))
      if (previous) {
        for (const m of MONOTONE) assert.ok(now[m]! >= previous[m]!, `scrape ${i}: ${m} went down from ${previous[m]} to ${now[m]}`)
      }
      previous = now
    }
    assert.ok(during > 0, 'no scrape happened while workers were starting or draining')
    const last = parseExposition(scrapes.at(-1)!.text)
    assert.equal(total(last, 'smooth_rollouts_total', { kind: 'reload', result: 'success' }), 2)
    assert.equal(total(last, 'smooth_rollouts_total', { kind: 'restart', result: 'success' }), 1)
    assert.equal(total(last, 'smooth_generation'), 2)
    // Every request the load made was counted, across both reloads and the restart.
    const answered = total(last, 'smooth_http_requests_total', { route: '/' })
    assert.equal(answered, result.ok, `counted ${answered} requests to / but the load had ${result.ok} answered`)
  } finally {
    p.kill()
  }
})
