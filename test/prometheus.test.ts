import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, readFileSync, mkdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium } from 'playwright-core'
import { SmoothProcess, killAll, ROOT } from './helpers/proc.js'
import { steadyLoad } from './helpers/load.js'
import { writeRelease } from './helpers/release.js'
import { reloadBySignal, restartBySignal } from './helpers/rollout.js'
import { Prometheus, type PromSeries } from './helpers/prometheus.js'
import { requires, which } from './helpers/requires.js'
import { chartPage, type ChartPanel, type Marker } from './helpers/chart.js'

after(killAll)
const root = mkdtempSync(join(tmpdir(), 'smooth-prometheus-'))
after(() => rmSync(root, { recursive: true, force: true }))
const ARTIFACTS = join(ROOT, 'test-artifacts')

interface Target { expr: string; refId?: string }
interface Panel { title: string; type: string; targets?: Target[] }
interface Dashboard { panels: Panel[]; annotations: { list: Array<{ name: string; expr?: string }> } }

/** Every PromQL expression of the dashboard, with Grafana's variables as a Grafana would fill them here. */
function dashboardQueries(rangeSeconds: number): Array<{ where: string; expr: string }> {
  const dash = JSON.parse(readFileSync(join(ROOT, 'grafana/dashboards/smooth.json'), 'utf8')) as Dashboard
  const fill = (e: string): string => e
    .replaceAll('$job', '.*')
    .replaceAll('$__rate_interval', '4s') // 4 x the 1 s scrape interval, as Grafana computes it
    .replaceAll('$__interval', '2s')
    .replaceAll('$__range', `${rangeSeconds}s`)
  const out = dash.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ where: `panel "${p.title}" ${t.refId ?? ''}`, expr: fill(t.expr) })))
  for (const a of dash.annotations.list) if (a.expr) out.push({ where: `annotation "${a.name}"`, expr: fill(a.expr) })
  return out
}

const finite = (s: PromSeries[]): boolean => s.some((x) => (x.values ?? (x.value ? [x.value] : [])).some(([, v]) => Number.isFinite(Number(v))))

test('a real Prometheus scrapes a reload and a restart: every dashboard query has data, increase() is exact across the restart', { timeout: 180_000, ...requires('prometheus', 'chromium') }, async () => {
  const p = new SmoothProcess(writeRelease(join(root, 'app'), 'A'), {})
  let prom: Prometheus | undefined
  try {
    const port = await p.ready()
    prom = await Prometheus.start(join(root, 'prom'), `127.0.0.1:${port}`)
    const load = steadyLoad(`http://127.0.0.1:${port}/`, { concurrency: 2, maxMs: 120_000 })
    /** Scrapes stored since `since` (unix seconds) whose smooth_generation is `generation`. */
    const scrapesOf = async (since: number, generation?: number): Promise<number> =>
      ((await prom!.query('smooth_generation[5m]'))[0]?.values ?? []).filter(([t, v]) => t >= since && (generation === undefined || Number(v) === generation)).length
    await prom.until('five scrapes before the rollouts', async () => (await scrapesOf(0)) >= 5, 30_000)
    const start = Date.now() / 1000 - 5

    await reloadBySignal(p)
    const reloadedAt = Date.now() / 1000
    await prom.until('five scrapes after the reload', async () => (await scrapesOf(reloadedAt)) >= 5, 30_000)
    await restartBySignal(p)
    await prom.until('five scrapes of generation 2', async () => (await scrapesOf(0, 2)) >= 5, 30_000)
    const end = Date.now() / 1000
    const result = await load.stop()
    assert.equal(result.failed, 0, `failed requests: ${result.errors.join('; ')}`)

    // increase() over exactly the sampled span (no extrapolation): the rollouts performed, 1 each,
    // with the restart in the middle. A counter that restarted from 0 would read as a reset here.
    for (const [kind, result, expected] of [['reload', 'success', 1], ['restart', 'success', 1], ['reload', 'failure', 0], ['restart', 'failure', 0]] as const) {
      const sel = `smooth_rollouts_total{kind="${kind}",result="${result}"}`
      const raw = await prom.query(`${sel}[5m]`)
      assert.equal(raw.length, 1, `${sel}: one series across both generations, got ${raw.length}`)
      const values = raw[0]!.values!
      const [first, last] = [values[0]![0], values.at(-1)![0]]
      const spanMs = Math.round((last - first) * 1000)
      const inc = await prom.query(`increase(${sel}[${spanMs}ms])`, last)
      assert.equal(Number(inc[0]?.value?.[1]), expected, `increase(${sel}) over the test: ${JSON.stringify(inc)}`)
    }
    const resets = await prom.query('resets(smooth_http_requests_total[5m]) > 0 or resets(smooth_rollouts_total[5m]) > 0 or resets(smooth_connections_accepted_total[5m]) > 0')
    assert.deepEqual(resets.map((r) => r.metric), [], 'a counter went down during the rollouts')

    const queries = dashboardQueries(Math.ceil(end - start))
    assert.ok(queries.length >= 15, `only ${queries.length} queries found in the dashboard`)
    const empty: string[] = []
    for (const q of queries) {
      // No canary runs in this scenario (canary-rollouts.test runs them): the Canaries annotation fires
      // only during one, so here the series it reads must be scraped, with its labels.
      const expr = q.where === 'annotation "Canaries"' ? 'smooth_canaries_total{kind="restart",result="started"}' : q.expr
      const data = await prom.queryRange(expr, start, end, 1)
      if (!finite(data)) empty.push(`${q.where}: ${expr}`)
    }
    assert.deepEqual(empty, [], 'dashboard queries without data')

    await picture(prom, start, end)
  } finally {
    prom?.stop()
    p.kill()
  }
})

/** Renders the restart panels from Prometheus' data to test-artifacts/rollout-panels.png (copied to docs/). */
async function picture(prom: Prometheus, start: number, end: number): Promise<void> {
  const series = async (expr: string, name: (m: Record<string, string>) => string) =>
    (await prom.queryRange(expr, start, end, 1)).map((s) => ({ name: name(s.metric), points: s.values!.map(([t, v]) => [t, Number(v)] as [number, number]) }))
  const panels: ChartPanel[] = [
    { title: 'Requests per second by status', unit: 'req/s', series: await series('sum by (status_code) (rate(smooth_http_requests_total[4s]))', (m) => m.status_code ?? '') },
    { title: 'Latency p50 / p95 / p99', unit: 's', series: [
      ...await series('histogram_quantile(0.5, sum by (le) (rate(smooth_http_request_duration_seconds_bucket[4s])))', () => 'p50'),
      ...await series('histogram_quantile(0.95, sum by (le) (rate(smooth_http_request_duration_seconds_bucket[4s])))', () => 'p95'),
      ...await series('histogram_quantile(0.99, sum by (le) (rate(smooth_http_request_duration_seconds_bucket[4s])))', () => 'p99'),
    ] },
    { title: 'Workers by state (as the serving primary sees them)', unit: '', series: await series('sum by (state) (smooth_workers)', (m) => m.state ?? '') },
    { title: 'Rollouts (total, by kind) and generation', unit: '', series: [
      ...await series('sum by (kind) (smooth_rollouts_total{result="success"})', (m) => `${m.kind} total`),
      ...await series('max(smooth_generation)', () => 'generation'),
    ] },
  ]
  const markers: Marker[] = []
  for (const s of await prom.queryRange('sum by (kind) (increase(smooth_rollouts_total{result="success"}[2s])) > 0', start, end, 1)) {
    let prev = -Infinity
    for (const [t] of s.values!) { if (t - prev > 3) markers.push({ at: t, label: `${s.metric.kind} done` }); prev = t }
  }
  mkdirSync(ARTIFACTS, { recursive: true })
  const browser = await chromium.launch({ executablePath: which('chromium'), args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'] })
  try {
    const page = await browser.newPage({ viewport: { width: 1160, height: 560 } })
    await page.setContent(chartPage('Smooth: a reload, then a restart, under load (real Prometheus data, 1 s scrapes)', panels, markers, start, end))
    await page.screenshot({ path: join(ARTIFACTS, 'rollout-panels.png'), fullPage: true })
  } finally {
    await browser.close()
  }
}
