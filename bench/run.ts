/**
 * `npm run bench`: runs every benchmark scenario and rewrites BENCHMARKS.md with the figures of every
 * run, the command and the machine, and a table of the goals with the ratio each reached. Scenarios
 * (each in its own module): hello (defaults against plain node:cluster, throughput and CPU),
 * footprint (memory and cold start), metrics (on vs off), curve (rollout time against the worker
 * count), surge (its values side by side), scrape (/metrics latency), rollout (p99 through reloads
 * and restarts, against PM2), tls-rollout (the same over HTTPS and HTTP/2). Each part's wall time is printed.
 * BENCH_ONLY=hello,footprint,... runs some of them (a smoke test; BENCHMARKS.md is then not written).
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { ROOT } from '../test/helpers/proc.js'
import { helloBench, median } from './hello.js'
import { rolloutBench } from './rollout.js'
import { metricsBench } from './metrics.js'
import { footprintBench } from './footprint.js'
import { curveBench } from './curve.js'
import { surgeBench } from './surge.js'
import { scrapeBench, scrapeSummary } from './scrape.js'
import { tlsRolloutBench, tlsRolloutSection } from './tls-rollout.js'
import { machine } from './machine.js'

const seconds = Number(process.env.BENCH_SECONDS ?? 5)
const rounds = Number(process.env.BENCH_ROUNDS ?? 5)
const workers = Number(process.env.WORKERS ?? 2)
const connections = 50
const only = process.env.BENCH_ONLY?.split(',')
const f = (n: number, d = 1): string => (Number.isFinite(n) ? n.toFixed(d) : 'n/a')
const list = (xs: number[], d = 0): string => xs.map((x) => f(x, d)).join(', ')
/** Wall time of each part (BENCH_ONLY names), for planning a run. */
const wall: Array<[string, number]> = []
const started = performance.now()
let partStart = started
const wanted = (name: string): boolean => {
  if (only && !only.includes(name)) return false
  const now = performance.now()
  const last = wall[wall.length - 1]
  if (last) last[1] = now - partStart
  partStart = now
  wall.push([name, 0])
  return true
}
const goals: Array<{ goal: string; target: string; figure: string; met: boolean }> = []
const sections: string[] = []

if (wanted('hello')) {
  const hello = await helloBench({ workers, seconds, rounds, connections })
  const [keepAlive, close] = hello
  goals.push({ goal: 'defaults: keep-alive requests/s vs plain cluster', target: '≥ 0.97×', figure: `${f(keepAlive!.ratio, 3)}×`, met: keepAlive!.ratio >= 0.97 })
  goals.push({ goal: 'defaults: new connections/s vs plain cluster', target: '≥ 1.5×', figure: `${f(close!.ratio, 3)}×`, met: close!.ratio >= 1.5 })
  goals.push({ goal: 'defaults: server CPU per request vs plain cluster (keep-alive)', target: '≤ 1.08×', figure: `${f(keepAlive!.cpuRatio, 3)}×`, met: keepAlive!.cpuRatio <= 1.08 })
  sections.push(`## Defaults at full speed: Smooth at its default settings vs plain node:cluster + Fastify (${workers} workers each)

Command: \`BENCH_SECONDS=${seconds} BENCH_ROUNDS=${rounds} WORKERS=${workers} npm run bench\`. Smooth runs the demo's
settings (graceful, admin, metrics on, under-pressure registered: \`bench/apps/smooth-hello.ts\`); nobody
scrapes during the runs. CPU: utime + stime of the whole process tree (anchor, primary, workers /
primary, workers) during each run, in ms per 1000 requests.

| load | Smooth req/s (runs) | node:cluster req/s (runs) | Smooth / cluster | Smooth CPU ms/1k req (runs) | cluster CPU ms/1k req (runs) | CPU Smooth / cluster | Smooth errors |
|---|---|---|---|---|---|---|---|
${hello.map((h) => `| ${h.load} | ${list(h.smooth)} | ${list(h.cluster)} | **${f(h.ratio, 3)}×** | ${list(h.smoothCpu)} | ${list(h.clusterCpu)} | **${f(h.cpuRatio, 3)}×** | ${h.errors} |`).join('\n')}
`)
}

if (wanted('footprint')) {
  const fp = await footprintBench({ workers, rounds: 3 })
  const roles = (r: typeof fp.smooth[number]): string => Object.entries(r.roles).map(([k, v]) => `${k} ${f(v)}`).join(', ')
  const anchor = median(fp.smooth.map((r) => r.roles.anchor!))
  const workerOver = median(fp.smooth.map((s, i) => {
    const w = (r: typeof s) => Object.entries(r.roles).filter(([k]) => k.startsWith('worker')).map(([, v]) => v)
    return Math.max(...w(s)) - median(w(fp.cluster[i]!))
  }))
  goals.push({ goal: `footprint: total RSS with ${workers} workers vs plain cluster`, target: '≤ 1.25×', figure: `${f(fp.rssRatio, 2)}×`, met: fp.rssRatio <= 1.25 })
  goals.push({ goal: 'footprint: anchor RSS', target: '≤ 50 MiB', figure: `${f(anchor)} MiB`, met: anchor <= 50 })
  goals.push({ goal: 'footprint: largest worker RSS over a plain worker', target: '≤ +10 MiB', figure: `+${f(workerOver)} MiB`, met: workerOver <= 10 })
  goals.push({ goal: 'cold start to first 200 vs plain cluster', target: '≤ 2×', figure: `${f(fp.coldRatio, 2)}×`, met: fp.coldRatio <= 2 })
  sections.push(`## Footprint and cold start (${workers} workers each)

RSS of each process once the tree has idled 1.5 s after ready (MiB), and spawn to the first answered
\`GET /\` (ms), 3 runs each, alternating. "File-backed": the part of the total RSS backed by files
(\`RssFile\`), for a Node process mostly the node binary's own pages, which each process counts in full
although the kernel holds them once; PSS (\`smaps_rollup\`) counts a page shared by k processes 1/k in each.

| system | run | cold start ms | total RSS MiB | of which file-backed | total PSS MiB | RSS by process (MiB) |
|---|---|---|---|---|---|---|
${[...fp.smooth.map((r, i) => ['Smooth', i, r] as const), ...fp.cluster.map((r, i) => ['node:cluster', i, r] as const)]
  .map(([who, i, r]) => `| ${who} | ${i + 1} | ${f(r.coldStartMs, 0)} | ${f(r.totalMiB)} | ${f(r.fileMiB)} | ${f(r.pssMiB)} | ${roles(r)} |`).join('\n')}

Median ratios Smooth / cluster: total RSS **${f(fp.rssRatio, 2)}×** (PSS ${f(fp.pssRatio, 2)}×), cold start **${f(fp.coldRatio, 2)}×**.
`)
}

if (wanted('metrics')) {
  const overhead = await metricsBench({ workers, seconds, rounds, connections })
  sections.push(`## Metrics overhead: Smooth with metrics on vs off (${workers} workers, keep-alive)

The same app; metrics on counts every request (counter and histogram by server, method, route,
status) and answers \`/metrics\`; nobody scrapes during the runs.

| metrics on req/s (runs) | metrics off req/s (runs) | on / off | errors |
|---|---|---|---|
| ${list(overhead.on)} | ${list(overhead.off)} | **${f(overhead.ratio, 3)}×** | ${overhead.errors} |
`)
}

if (wanted('curve')) {
  const curve = await curveBench({ workerCounts: [2, 4, 8], count: Number(process.env.BENCH_CURVE_ROLLOUTS ?? 3) })
  const at4 = curve.find((r) => r.workers === 4)
  if (at4) {
    goals.push({ goal: 'reload of 4 workers, under load, 0 failed', target: '≤ 1.2 s', figure: `${f(median(at4.reloadMs), 0)} ms, ${at4.failed} failed`, met: median(at4.reloadMs) <= 1200 && at4.failed === 0 })
    goals.push({ goal: 'restart of 4 workers to the handover, under load, 0 failed', target: '≤ 2 s', figure: `${f(median(at4.restartMs), 0)} ms, ${at4.failed} failed`, met: median(at4.restartMs) <= 2000 && at4.failed === 0 })
  }
  sections.push(`## Rollout time against the worker count (default surge)

3 reloads and 3 restarts at each worker count, under 10 keep-alive connections (autocannon). Reload:
signal to \`workers reloaded\`; restart: signal to the handover (\`server restarted\`).

| workers | reload ms (runs) | median | restart ms (runs) | median | failed requests |
|---|---|---|---|---|---|
${curve.map((r) => `| ${r.workers} | ${list(r.reloadMs)} | **${f(median(r.reloadMs), 0)}** | ${list(r.restartMs)} | **${f(median(r.restartMs), 0)}** | ${r.failed} |`).join('\n')}
`)
}

if (wanted('surge')) {
  const surges = (process.env.BENCH_SURGES ?? '1,100%').split(',')
  const surgeWorkers = Number(process.env.BENCH_SURGE_WORKERS ?? 4)
  const rows = await surgeBench({ workers: surgeWorkers, surges, rounds: Number(process.env.BENCH_SURGE_ROUNDS ?? 3) })
  sections.push(`## The surge setting side by side (${surgeWorkers} workers)

One server per value, all up at once; rounds alternate between them (A B C, C B A, …), each a reload and
a restart (to the handover) of the server under 10 keep-alive connections (autocannon), the others idle.
\`BENCH_SURGES\`, \`BENCH_SURGE_WORKERS\`, \`BENCH_SURGE_ROUNDS\` change the run.

| surge | reload ms (runs) | median | restart ms (runs) | median | failed requests |
|---|---|---|---|---|---|
${rows.map((r) => `| ${r.surge} | ${list(r.reloadMs)} | **${f(median(r.reloadMs), 0)}** | ${list(r.restartMs)} | **${f(median(r.restartMs), 0)}** | ${r.failed} |`).join('\n')}
`)
}

if (wanted('scrape')) {
  const sc = await scrapeBench({ idleWorkers: 8, workers, scrapes: 30, reloads: 3 })
  const idle = scrapeSummary(sc.idleMs)
  const during = scrapeSummary(sc.reloadMs)
  goals.push({ goal: `/metrics at ${sc.idleWorkers} workers, idle (median)`, target: '≤ 15 ms', figure: `${f(idle.median)} ms`, met: idle.median <= 15 })
  goals.push({ goal: '/metrics during reloads, worst', target: '≤ 100 ms', figure: `${f(during.max)} ms`, met: during.max <= 100 })
  sections.push(`## Scrapes: /metrics latency

${sc.idleMs.length} scrapes in a row at ${sc.idleWorkers} workers, idle: median ${f(idle.median)} ms, max ${f(idle.max)} ms.
${sc.reloadMs.length} scrapes in a row through ${sc.reloads} reloads of ${sc.workers} workers under 10 keep-alive connections: median ${f(during.median)} ms, **max ${f(during.max)} ms**.
`)
}

if (wanted('rollout')) {
  const rollout = await rolloutBench({ workers, seconds: Number(process.env.BENCH_ROLLOUT_SECONDS ?? 24), count: Number(process.env.BENCH_ROLLOUTS ?? 5) })
  for (const r of rollout.filter((x) => x.system.startsWith('Smooth'))) {
    const ratio = r.rolloutP99 / r.steadyP99
    goals.push({ goal: `p99 during ${r.system.replace('Smooth ', '')} vs steady p99 (50 keep-alive connections)`, target: '≤ 1.3×', figure: `${f(ratio, 2)}× (${r.errors + r.non2xx} failed)`, met: ratio <= 1.3 })
  }
  sections.push(`## Rollouts under load: Smooth reload, Smooth restart, PM2 \`pm2 reload\` (${workers} workers each)

Command: \`npm run bench\` (\`BENCH_ROLLOUT_SECONDS\`, \`BENCH_ROLLOUTS\` to change the run). Each system
serves the same hello-world route under 50 keep-alive connections (autocannon in the bench process)
for the run; after a steady first third, rollouts are triggered one after another, one second apart.
Latencies of responses completed inside a rollout window (trigger to done, + 200 ms) count as
"during rollout", the others (after the first second) as "steady". PM2 7 runs the same route on plain
Fastify in its cluster mode, with \`--wait-ready\` and a graceful SIGINT handler (its best case).
Rollout duration: Smooth reload until \`workers reloaded\`; Smooth restart until the handover
(\`server restarted\`; the old generation then drains in the background); PM2 until \`pm2 reload\` returns.

| system | rollouts | requests | errors + timeouts | non-2xx | steady p99 ms | rollout p99 ms | ratio | rollout ms |
|---|---|---|---|---|---|---|---|---|
${rollout.map((r) => `| ${r.system} | ${r.rollouts} | ${r.requests} | **${r.errors}** | ${r.non2xx} | ${f(r.steadyP99)} | ${f(r.rolloutP99)} | ${f(r.rolloutP99 / r.steadyP99, 2)}× | ${f(r.rolloutMs, 0)} |`).join('\n')}
`)
}

if (wanted('tls-rollout')) {
  const tlsRollout = await tlsRolloutBench({ workers, seconds: Number(process.env.BENCH_ROLLOUT_SECONDS ?? 24), count: Number(process.env.BENCH_ROLLOUTS ?? 5) })
  sections.push(tlsRolloutSection(tlsRollout, workers))
}

{
  const last = wall[wall.length - 1]
  if (last) last[1] = performance.now() - partStart
}
const wallLine = `Wall time: ${f((performance.now() - started) / 1000, 0)} s in all; by part (\`BENCH_ONLY=<part>\`): ${wall.map(([n, ms]) => `${n} ${f(ms / 1000, 0)} s`).join(', ')}.`

const md = `# Benchmarks

Written by \`npm run bench\` (${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC). Machine: ${machine()}.
Load generator: wrk, 1 thread, ${connections} connections, ${seconds} s per run, ${rounds} runs per side,
alternating sides (A B, B A, …) after a 2 s warm-up of each; a ratio is the median of the per-round
ratios. Load generator, primaries and workers share the same cores, as they would on a small host.
${wallLine}

## Goals (issue 14)

| goal | target | this run | met |
|---|---|---|---|
${goals.map((g) => `| ${g.goal} | ${g.target} | ${g.figure} | ${g.met ? 'yes' : '**no**'} |`).join('\n')}

${sections.join('\n')}`
if (!only) {
  // Kept from the file as it is: the notes on the targets (written by hand, about a run) and the
  // soak section (from `npm run soak`, which takes a quarter of an hour) and the anchor's RSS beside a
  // bare node (`node dist/bench/anchor-rss.js`).
  let old = ''
  try { old = readFileSync(resolve(ROOT, 'BENCHMARKS.md'), 'utf8') } catch { /* first run */ }
  const kept = ['notes', 'anchor', 'soak'].map((name) => new RegExp(`<!-- ${name} -->[\\s\\S]*<!-- /${name} -->\\n?`).exec(old)?.[0]).filter(Boolean)
  writeFileSync(resolve(ROOT, 'BENCHMARKS.md'), [md, ...kept].join('\n'))
}
console.log(md)
