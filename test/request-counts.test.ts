import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Registry, Counter, Histogram, AggregatorRegistry, type Metric } from 'prom-client'
import { RequestCounts, DURATION_BUCKETS } from '../src/metrics/request-counts.js'

/** The exposition of a registry, each metric's lines sorted (label order inside a line normalised). */
async function exposition(r: Registry): Promise<string[]> {
  const json = await r.getMetricsAsJSON()
  const text = await AggregatorRegistry.aggregate([json] as Parameters<typeof AggregatorRegistry.aggregate>[0]).metrics()
  return text.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => {
    const m = /^(\w+)(?:\{(.*)\})? (.*)$/.exec(l)!
    return `${m[1]}{${(m[2] ?? '').split(',').sort().join(',')}} ${m[3]}`
  }).sort()
}

test('request counts export exactly what prom-client\'s counter and histogram export for the same requests', async () => {
  const names = ['server', 'method', 'route', 'status_code'] as const
  const ours = new RequestCounts('t_requests_total', 't_duration_seconds')
  const theirsReg = new Registry()
  const c = new Counter({ name: 't_requests_total', help: 'HTTP requests answered', labelNames: names, registers: [theirsReg] })
  const h = new Histogram({ name: 't_duration_seconds', help: 'HTTP request duration', labelNames: names, buckets: [...DURATION_BUCKETS], registers: [theirsReg] })
  const oursReg = new Registry()
  for (const m of ours.metrics()) oursReg.registerMetric(m as unknown as Metric)
  // Values on every bound, between bounds and above the last one; a few label sets.
  const values = [0, 0.00005, ...DURATION_BUCKETS, ...DURATION_BUCKETS.map((b) => b * 1.5), 42]
  let n = 0
  for (const v of values) {
    for (const [server, method, route, status] of [['a', 'GET', '/', 200], ['a', 'POST', '/x', 500], ['b', 'GET', 'unmatched', 404]] as const) {
      if ((n++ % 3) === 2 && server === 'b') continue
      ours.count(server, method, route, status, v)
      c.inc({ server, method, route, status_code: status })
      h.observe({ server, method, route, status_code: status }, v)
    }
  }
  assert.deepEqual(await exposition(oursReg), await exposition(theirsReg))
})
