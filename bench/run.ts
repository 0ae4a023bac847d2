/**
 * `npm run bench`: runs every benchmark scenario and rewrites BENCHMARKS.md with the figures, the
 * command and the machine. Scenarios: hello (hand-off cost against plain node:cluster), metrics (on vs
 * off), rollout (reload and restart under load against PM2).
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { ROOT } from '../test/helpers/proc.js'
import { helloBench } from './hello.js'
import { rolloutBench } from './rollout.js'
import { metricsBench } from './metrics.js'
import { tlsRolloutBench, tlsRolloutSection } from './tls-rollout.js'
import { machine } from './machine.js'

const seconds = Number(process.env.BENCH_SECONDS ?? 5)
const rounds = Number(process.env.BENCH_ROUNDS ?? 5)
const workers = Number(process.env.WORKERS ?? 2)
const connections = 50

const hello = await helloBench({ workers, seconds, rounds, connections })
const overhead = await metricsBench({ workers, seconds, rounds, connections })
const rollout = await rolloutBench({ workers, seconds: Number(process.env.BENCH_ROLLOUT_SECONDS ?? 24), count: Number(process.env.BENCH_ROLLOUTS ?? 5) })
const tlsRollout = await tlsRolloutBench({ workers, seconds: Number(process.env.BENCH_ROLLOUT_SECONDS ?? 24), count: Number(process.env.BENCH_ROLLOUTS ?? 5) })
const f = (n: number, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : 'n/a')
const rolloutRows = rollout.map((r) =>
  `| ${r.system} | ${r.rollouts} | ${r.requests} | **${r.errors}** | ${r.non2xx} | ${f(r.steadyP99)} | ${f(r.rolloutP99)} | ${f(r.rolloutP99 / r.steadyP99, 2)}× | ${f(r.rolloutMs, 0)} |`)
const rows = hello.map((h) =>
  `| ${h.load} | ${h.smooth.join(', ')} | ${h.cluster.join(', ')} | **${h.ratio.toFixed(3)}×** | ${h.errors} |`)

const md = `# Benchmarks

Written by \`npm run bench\` (${new Date().toISOString().slice(0, 10)}). Machine: ${machine()}.
Load generator: wrk, 1 thread, ${connections} connections, ${seconds} s per run, ${rounds} runs per side,
alternating sides (A B, B A, …) after a 2 s warm-up of each; the ratio is the median of the per-round
ratios. Load generator, primaries and workers share the same cores, as they would on a small host.

## Hand-off cost: Smooth vs plain node:cluster + Fastify (${workers} workers each)

Command: \`BENCH_SECONDS=${seconds} BENCH_ROUNDS=${rounds} WORKERS=${workers} npm run bench\`

| load | Smooth req/s (runs) | node:cluster req/s (runs) | Smooth / cluster | Smooth errors |
|---|---|---|---|---|
${rows.join('\n')}

Target: ≥ 0.95× on both loads. Smooth runs with metrics off here, to measure the hand-off alone.

## Metrics overhead: Smooth with metrics on vs off (${workers} workers, keep-alive)

Command: \`npm run bench\`. The same hello-world app; metrics on counts every request (counter and
histogram by server, method, route, status) and answers \`/metrics\`; nobody scrapes during the runs.

| metrics on req/s (runs) | metrics off req/s (runs) | on / off | errors |
|---|---|---|---|
| ${overhead.on.join(', ')} | ${overhead.off.join(', ')} | **${overhead.ratio.toFixed(3)}×** | ${overhead.errors} |

Target: ≥ 0.95×.

## Rollouts under load: Smooth reload, Smooth restart, PM2 \`pm2 reload\` (${workers} workers each)

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
${rolloutRows.join('\n')}

Target: zero errors for Smooth in every run; p99 during rollout ≤ 2 × steady p99.

${tlsRolloutSection(tlsRollout, workers)}`
// The soak section comes from `npm run soak` (it takes a quarter of an hour): keep it.
let soak = ''
try { soak = /<!-- soak -->[\s\S]*<!-- \/soak -->\n?/.exec(readFileSync(resolve(ROOT, 'BENCHMARKS.md'), 'utf8'))?.[0] ?? '' } catch { /* first run */ }
writeFileSync(resolve(ROOT, 'BENCHMARKS.md'), soak ? `${md}\n${soak}` : md)
console.log(md)
