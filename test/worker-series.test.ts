import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Registry, Counter, Gauge, AggregatorRegistry, type Metric } from 'prom-client'
import { SeriesCounter, ScrapeCounter, ScrapeGauge } from '../src/metrics/worker-series.js'
import { WorkerMetrics } from '../src/metrics/worker-metrics.js'
import { carriedOnly } from '../src/metrics/carried.js'

/** The exposition of registry dumps summed as the primary sums them, each line's labels sorted. */
async function exposition(dumps: unknown[][]): Promise<string[]> {
  const text = await AggregatorRegistry.aggregate(dumps as Parameters<typeof AggregatorRegistry.aggregate>[0]).metrics()
  return text.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => {
    const m = /^(\w+)(?:\{(.*)\})? (.*)$/.exec(l)!
    return `${m[1]}{${(m[2] ?? '').split(',').sort().join(',')}} ${m[3]}`
  }).sort()
}

test('worker counters and gauges export what prom-client\'s Counter and Gauge export for the same events', async () => {
  const ours = new Registry()
  const theirs = new Registry()
  const a = new SeriesCounter('t_accepted_total', 'accepted', ['server'])
  const b = new SeriesCounter('t_handed_total', 'handed')
  const c = new SeriesCounter('t_closed_total', 'closed', ['reason', 'server'])
  const cpu = new ScrapeCounter('t_cpu_seconds_total', 'cpu', () => 1.5)
  let rss: number | undefined
  const g = new ScrapeGauge('t_rss_bytes', 'rss', '1.2', () => rss)
  for (const m of [a, b, c, cpu, g]) ours.registerMetric(m as unknown as Metric)
  const registers = [theirs]
  const ta = new Counter({ name: 't_accepted_total', help: 'accepted', labelNames: ['server'], registers })
  const tb = new Counter({ name: 't_handed_total', help: 'handed', registers })
  const tc = new Counter({ name: 't_closed_total', help: 'closed', labelNames: ['reason', 'server'], registers })
  new Counter({ name: 't_cpu_seconds_total', help: 'cpu', registers }).inc(1.5)
  const tg = new Gauge({ name: 't_rss_bytes', help: 'rss', labelNames: ['worker'], registers })

  // A gauge with nothing to read is absent, as an unset prom-client gauge is.
  assert.deepEqual(await exposition([await ours.getMetricsAsJSON()]), await exposition([await theirs.getMetricsAsJSON()]))
  a.inc({ server: 'x' }, 0); ta.inc({ server: 'x' }, 0)
  const bound = a.labels({ server: 'y' })
  bound.inc(); bound.inc(); ta.inc({ server: 'y' }, 2)
  b.inc(); tb.inc()
  c.inc({ reason: 'idle', server: 'x' }, 3); tc.inc({ reason: 'idle', server: 'x' }, 3)
  c.inc({ server: 'x', reason: 'idle' }); tc.inc({ reason: 'idle', server: 'x' })
  c.inc({ reason: 'deadline', server: 'x' }); tc.inc({ reason: 'deadline', server: 'x' })
  rss = 1234; tg.set({ worker: '1.2' }, 1234)
  // Twice, as two workers' dumps: summed by label set the same way.
  const oursJson = await ours.getMetricsAsJSON()
  const theirsJson = await theirs.getMetricsAsJSON()
  assert.deepEqual(await exposition([oursJson, oursJson]), await exposition([theirsJson, theirsJson]))
})

test('a worker reports prom-client\'s default Node metrics only with nodeMetrics; its counters are carried', async () => {
  const off = new WorkerMetrics('1.1', () => 0, () => undefined)
  const on = new WorkerMetrics('1.2', () => 0, () => undefined, { nodeMetrics: true })
  const names = (json: Array<{ name: string }>): string[] => json.map((m) => m.name)
  const offJson = await off.json()
  assert.deepEqual(names(offJson).filter((n) => !n.startsWith('smooth_')), [])
  const onJson = await on.json()
  assert.ok(names(onJson).includes('nodejs_heap_size_used_bytes'), names(onJson).join(' '))
  assert.equal(onJson.find((m) => m.name === 'process_cpu_user_seconds_total')?.values[0]?.labels.worker, '1.2')
  // The same own metrics either way; CPU time is a carried counter (summed over workers, kept when one leaves).
  assert.deepEqual(names(onJson).filter((n) => n.startsWith('smooth_')), names(offJson))
  const carried = names(carriedOnly(offJson))
  for (const n of ['smooth_worker_cpu_seconds_total', 'smooth_http_requests_total', 'smooth_connections_accepted_total']) assert.ok(carried.includes(n), n)
  assert.ok(!carried.includes('smooth_worker_rss_bytes'))
  assert.ok((offJson.find((m) => m.name === 'smooth_worker_cpu_seconds_total')?.values[0]?.value ?? 0) > 0)
})
