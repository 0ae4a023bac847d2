import { test } from 'node:test'
import assert from 'node:assert/strict'
import { canaryDefaults, diffCounts, emptyCounts, judge, quantileMs, type Counts } from '../src/primary/canary.js'
import { countsOf } from '../src/primary/canary-counts.js'
import { canaryFor, canaryReasonOf, parseCanaryArg } from '../src/primary/canary-request.js'
import { DURATION_BUCKETS } from '../src/metrics/request-counts.js'
import { RequestCounts } from '../src/metrics/request-counts.js'
import { codeOf } from './helpers/codes.js'

/** `n` requests of `ms` each, `errors` of them 5xx, bucketed as a worker buckets them. */
function counts(n: number, ms: number, errors = 0): Counts {
  const c = emptyCounts()
  c.requests = n
  c.errors = errors
  c.seconds = (n * ms) / 1000
  let i = 0
  while (i < DURATION_BUCKETS.length && ms / 1000 > DURATION_BUCKETS[i]!) i++
  c.buckets[i] = n
  return c
}

test('judge: errors above 1 % and 2 × the old ratio roll back; an outage hitting both alike does not', () => {
  const s = canaryDefaults
  const bad = judge(counts(300, 5, 15), counts(900, 5, 0), s)
  assert.equal(bad.result, 'rolled_back')
  assert.equal(bad.reason, 'canary_errors')
  assert.match(bad.why, /5\.00 % \(15\/300\)/)
  assert.equal(judge(counts(300, 5, 2), counts(900, 5, 0), s).result, 'promoted', '0.67 % is under maxErrorRatio')
  assert.equal(judge(counts(300, 5, 15), counts(900, 5, 40), s).result, 'promoted', 'the old workers fail as often')
})

test('judge: 3 × slower rolls back for latency whatever the buckets (mean is exact); a fast route below minLatency is not judged', () => {
  const s = canaryDefaults
  for (const base of [11, 20, 30, 45]) {
    const d = judge(counts(300, base * 3), counts(900, base), s)
    assert.equal(d.reason, 'canary_latency', `${base} ms -> ${base * 3} ms: ${d.why}`)
  }
  assert.equal(judge(counts(300, 1.5), counts(900, 0.5), s).result, 'promoted', 'below minLatency (25 ms)')
  assert.equal(judge(counts(300, 22), counts(900, 20), s).result, 'promoted')
})

test('judge: fewer than minRequests is rolled back as inconclusive, not promoted on faith', () => {
  const d = judge(counts(10, 5), counts(30, 5), canaryDefaults)
  assert.equal(d.result, 'rolled_back')
  assert.equal(d.reason, 'canary_inconclusive')
  assert.equal(d.inconclusive, true)
})

test('quantileMs interpolates in the bucket; null without requests; countsOf reads a worker registry', async () => {
  assert.equal(quantileMs(emptyCounts().buckets, 0.99), null)
  const rc = new RequestCounts('smooth_http_requests_total', 'smooth_http_request_duration_seconds')
  for (let i = 0; i < 95; i++) rc.count('a', 'GET', '/', 200, 0.003)
  for (let i = 0; i < 5; i++) rc.count('a', 'GET', '/', 500, 0.3)
  const dump = await Promise.all(rc.metrics().map((m) => m.get()))
  const c = countsOf(dump)
  assert.equal(c.requests, 100)
  assert.equal(c.errors, 5)
  assert.ok(Math.abs(c.seconds - (95 * 0.003 + 5 * 0.3)) < 1e-9)
  const p99 = quantileMs(c.buckets, 0.99)!
  assert.ok(p99 > 250 && p99 <= 500, String(p99))
  const later = structuredClone(c)
  later.requests += 10
  assert.equal(diffCounts(later, c).requests, 10)
})

test('canary requests: config, admin argument, reasons', () => {
  const configured = { enabled: false, settings: canaryDefaults }
  assert.equal(canaryFor(configured, undefined), undefined)
  assert.equal(canaryFor({ ...configured, enabled: true }, undefined), canaryDefaults)
  assert.equal(canaryFor({ ...configured, enabled: true }, false), undefined)
  assert.equal(canaryFor(configured, { window: '2s' })!.windowMs, 2000)
  assert.equal(parseCanaryArg('1'), true)
  assert.deepEqual(parseCanaryArg('{"window":"5s"}'), { window: '5s' })
  assert.equal(codeOf(() => parseCanaryArg('{"window":"soon"}')), 'SMOOTH_ADMIN_BAD_REQUEST')
  assert.equal(codeOf(() => parseCanaryArg('[1]')), 'SMOOTH_ADMIN_BAD_REQUEST')
  assert.equal(codeOf(() => canaryFor(configured, { maxErrorRatio: 2 })), 'SMOOTH_CONFIG_INVALID')
  assert.equal(canaryReasonOf('SMOOTH_CANARY_LATENCY'), 'canary_latency')
  assert.equal(canaryReasonOf('SMOOTH_WORKER_NOT_READY'), undefined)
})

test('smooth reload --canary by signal is refused: a signal cannot carry it', async () => {
  const { execFile } = await import('node:child_process')
  const { dist } = await import('./helpers/proc.js')
  const r = await new Promise<{ code: number | null; out: string }>((resolve) => {
    execFile(process.execPath, [dist('src/cli/smooth.js'), 'reload', '--pid-file', '/nonexistent/smooth.pid', '--canary', '--json'], (err, stdout) =>
      resolve({ code: err ? (err as { code: number }).code : 0, out: stdout }))
  })
  assert.equal(r.code, 2)
  assert.equal((JSON.parse(r.out.trim()) as { code: string }).code, 'SMOOTH_CLI_CANARY_BY_SIGNAL')
})

test('watchCanary: samples the window, then the check vetoes (function, or a URL not answering 2xx)', async () => {
  const { watchCanary } = await import('../src/primary/canary-run.js')
  const { createServer } = await import('node:http')
  const pino = (await import('pino')).default
  const log = pino({ level: 'silent' })
  let t = 0
  // Each sample: 60 more requests on the canary, 120 on the old side, all fast and fine.
  const sample = async () => {
    t++
    return { canary: new Map([['c', counts(60 * t, 1)]]), old: new Map([['o', counts(120 * t, 1)]]) }
  }
  const base = { ...canaryDefaults, windowMs: 200, minRequests: 50 }
  const views: string[] = []
  const run = (check: typeof base.check) => watchCanary({ settings: { ...base, check }, workers: [1], sample, crashed: () => undefined, stopped: () => false, update: (v) => views.push(v.phase), log })
  const ok = await run(() => true)
  assert.ok(ok !== 'stopped' && ok.result === 'promoted' && ok.canary.requests >= 50, JSON.stringify(ok))
  assert.ok(views.includes('watching') && views.at(-1) === 'promoted')
  const no = await run(async () => false)
  assert.ok(no !== 'stopped' && no.reason === 'canary_check', JSON.stringify(no))
  const server = createServer((req, res) => res.writeHead(req.url === '/ok' ? 200 : 503).end()).listen(0, '127.0.0.1')
  await new Promise((r) => server.once('listening', r))
  const port = (server.address() as { port: number }).port
  try {
    const urlOk = await run(`http://127.0.0.1:${port}/ok`)
    assert.ok(urlOk !== 'stopped' && urlOk.result === 'promoted', JSON.stringify(urlOk))
    const urlNo = await run(`http://127.0.0.1:${port}/no`)
    assert.ok(urlNo !== 'stopped' && urlNo.reason === 'canary_check' && /answered 503/.test(urlNo.why), JSON.stringify(urlNo))
  } finally {
    server.close()
  }
  const crashed = await watchCanary({ settings: base, workers: [1], sample, crashed: () => '1 died (exit code 1)', stopped: () => false, update: () => {}, log })
  assert.ok(crashed !== 'stopped' && crashed.reason === 'canary_crashed')
  assert.equal(await watchCanary({ settings: base, workers: [1], sample, crashed: () => undefined, stopped: () => true, update: () => {}, log }), 'stopped')
})
