import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SmoothProcess, killAll } from './helpers/proc.js'
import { get } from './helpers/http.js'
import { writeRelease } from './helpers/release.js'
import { parseExposition } from './helpers/exposition.js'

after(killAll)
const root = mkdtempSync(join(tmpdir(), 'smooth-node-metrics-'))
after(() => rmSync(root, { recursive: true, force: true }))

/** The distinct `worker` labels of a metric's series. */
const workersOf = (text: string, name: string): string[] =>
  [...new Set(parseExposition(text).filter((s) => s.name === name).map((s) => s.labels.worker ?? ''))].sort()

test('nodeMetrics: a worker\'s prom-client default metrics are in /metrics when on, absent by default', { timeout: 30_000 }, async () => {
  const release = writeRelease(join(root, 'app'), 'A')
  const byDefault = new SmoothProcess(release, {})
  const on = new SmoothProcess(release, { SMOOTH_NODE_METRICS: 'true' })
  try {
    const [offPort, onPort] = await Promise.all([byDefault.ready(), on.ready()])
    const [off, with_] = await Promise.all([offPort, onPort].map(async (port) => (await get(`http://127.0.0.1:${port}/metrics`, { timeoutMs: 5000 })).body))
    // Off: no per-worker Node metrics at all (the primary's own are prefixed), Smooth's per-worker gauges as before.
    assert.deepEqual(parseExposition(off!).filter((s) => /^(nodejs|process)_/.test(s.name)).map((s) => s.key), [])
    assert.equal(workersOf(off!, 'smooth_worker_rss_bytes').length, 2)
    assert.ok(parseExposition(off!).some((s) => s.name === 'smooth_primary_nodejs_heap_size_used_bytes'))
    assert.ok(parseExposition(off!).some((s) => s.name === 'smooth_worker_cpu_seconds_total' && s.value > 0))
    // On: each of the two workers' series, labelled by worker.
    assert.equal(workersOf(with_!, 'nodejs_heap_size_used_bytes').length, 2, with_!.slice(0, 500))
    assert.deepEqual(workersOf(with_!, 'process_cpu_user_seconds_total'), workersOf(with_!, 'smooth_worker_rss_bytes'))
  } finally {
    byDefault.kill()
    on.kill()
  }
})
