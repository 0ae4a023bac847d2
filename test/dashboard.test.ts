import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parse as parseYaml } from 'yaml'
import { SmoothProcess, killAll, ROOT } from './helpers/proc.js'
import { get } from './helpers/http.js'
import { writeRelease } from './helpers/release.js'
import { parseExposition } from './helpers/exposition.js'

after(killAll)
const root = mkdtempSync(join(tmpdir(), 'smooth-dashboard-'))
after(() => rmSync(root, { recursive: true, force: true }))

const DASHBOARD = join(ROOT, 'grafana/dashboards/smooth.json')
const DATASOURCE = '${datasource}'

interface Target { expr?: string; datasource?: { uid?: string; type?: string } }
interface Panel { id: number; title: string; type: string; datasource?: { uid?: string; type?: string }; targets?: Target[] }

function load(): { json: Record<string, unknown>; panels: Panel[]; exprs: string[] } {
  const json = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Record<string, unknown>
  const panels = json.panels as Panel[]
  const annotations = (json.annotations as { list: Array<{ expr?: string }> }).list
  const exprs = [...panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr ?? '')), ...annotations.flatMap((a) => (a.expr ? [a.expr] : []))]
  return { json, panels, exprs }
}

test('dashboard: current schema, datasource as a variable, no hard-coded uid, every panel queries the variable', () => {
  const { json, panels } = load()
  assert.ok((json.schemaVersion as number) >= 36, `schemaVersion ${json.schemaVersion}`)
  assert.equal(json.uid, undefined, 'a provisioned dashboard gets its uid from Grafana; none is hard-coded')
  const vars = (json.templating as { list: Array<{ name: string; type: string; query: unknown }> }).list
  assert.ok(vars.some((v) => v.name === 'datasource' && v.type === 'datasource' && v.query === 'prometheus'), 'a datasource variable of type prometheus')
  const text = readFileSync(DASHBOARD, 'utf8')
  for (const m of text.matchAll(/"uid":\s*"([^"]*)"/g)) {
    assert.ok(m[1] === DATASOURCE || m[1] === '-- Grafana --', `hard-coded uid ${m[1]}`)
  }
  const dataPanels = panels.filter((p) => p.type !== 'row')
  assert.ok(dataPanels.length >= 12)
  for (const p of dataPanels) {
    assert.equal(p.datasource?.uid, DATASOURCE, `panel "${p.title}" datasource`)
    assert.ok((p.targets ?? []).length > 0, `panel "${p.title}" has no query`)
    for (const t of p.targets!) {
      assert.equal(t.datasource?.uid, DATASOURCE, `panel "${p.title}" target datasource`)
      assert.ok(t.expr && t.expr.trim().length > 0, `panel "${p.title}" has an empty query`)
      assert.match(t.expr, /job=~"\$job"/, `panel "${p.title}": every selector filters by the job variable`)
    }
  }
  assert.equal(new Set(panels.map((p) => p.id)).size, panels.length, 'panel ids are unique')
  // The panels the issue asks for, by what they show.
  for (const want of [/smooth_http_requests_total/, /histogram_quantile\(0\.99, .*smooth_http_request_duration_seconds_bucket/, /smooth_http_requests_in_flight/,
    /smooth_rollouts_total/, /smooth_last_rollout_duration_seconds/, /smooth_workers\{/, /smooth_drains_forced_total/, /smooth_worker_crashes_total/,
    /smooth_worker_event_loop_delay_seconds/, /smooth_worker_heap_used_bytes/, /smooth_worker_rss_bytes/, /smooth_requests_shed_total/]) {
    assert.ok(load().exprs.some((e) => want.test(e)), `no query matches ${want}`)
  }
  const annotations = (json.annotations as { list: Array<{ name: string; expr?: string; datasource?: { uid?: string } }> }).list
  assert.ok(annotations.some((a) => a.expr?.includes('smooth_rollouts_total') && a.datasource?.uid === DATASOURCE), 'rollouts as annotations')
  assert.ok(annotations.some((a) => a.expr?.includes('smooth_canaries_total') && a.datasource?.uid === DATASOURCE), 'canary start, promotion and rollback as annotations')
})

test('grafana provisioning and the example prometheus.yml parse and point at the dashboard folder', () => {
  const ds = parseYaml(readFileSync(join(ROOT, 'grafana/provisioning/datasources/prometheus.yml'), 'utf8')) as { datasources: Array<{ type: string; isDefault?: boolean; uid?: string }> }
  assert.equal(ds.datasources[0]?.type, 'prometheus')
  // A second default datasource makes Grafana refuse the file: never claim the default.
  assert.equal(ds.datasources[0]?.isDefault, false)
  assert.ok(ds.datasources[0]?.uid, 'a fixed uid')
  const dash = parseYaml(readFileSync(join(ROOT, 'grafana/provisioning/dashboards/smooth.yml'), 'utf8')) as { providers: Array<{ type: string; options: { path: string } }> }
  assert.equal(dash.providers[0]?.type, 'file')
  assert.match(dash.providers[0]!.options.path, /grafana\/dashboards$/)
  const prom = parseYaml(readFileSync(join(ROOT, 'grafana/prometheus.yml'), 'utf8')) as { scrape_configs: Array<{ metrics_path: string }> }
  assert.equal(prom.scrape_configs[0]?.metrics_path, '/metrics')
})

test('every metric the dashboard uses is one Smooth exports (names taken from a real scrape)', { timeout: 60_000 }, async () => {
  const p = new SmoothProcess(writeRelease(join(root, 'app'), 'A'), {})
  try {
    const port = await p.ready()
    await get(`http://127.0.0.1:${port}/`)
    const r = await get(`http://127.0.0.1:${port}/metrics`)
    assert.equal(r.status, 200)
    assert.match(String(r.headers['content-type']), /^text\/plain; version=0\.0\.4/)
    // Samples, and the metrics declared by `# TYPE` (the last-rollout gauges have no sample before a
    // first rollout; the Prometheus test shows them with data after one).
    const exported = new Set(parseExposition(r.body).map((s) => s.name))
    for (const m of r.body.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
      exported.add(m[1]!)
      if (m[2] === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) exported.add(m[1]! + suffix)
    }
    // A metric in PromQL here is an identifier right before a `{` selector (every one has a job filter).
    const used = new Set(load().exprs.flatMap((e) => [...e.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\{/g)].map((m) => m[1]!)))
    assert.ok(used.size >= 12, `only ${used.size} metrics found in the dashboard`)
    const missing = [...used].filter((m) => !exported.has(m))
    assert.deepEqual(missing, [], `the dashboard uses metrics Smooth does not export; exported: ${[...exported].filter((n) => n.startsWith('smooth_')).join(', ')}`)
  } finally {
    p.kill()
  }
})
