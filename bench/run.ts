/**
 * `npm run bench`: runs every benchmark scenario and rewrites BENCHMARKS.md with the figures, the
 * command and the machine. Scenarios: hello (hand-off cost against plain node:cluster).
 */
import { writeFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { ROOT } from '../test/helpers/proc.js'
import { helloBench } from './hello.js'
import { machine } from './machine.js'

const seconds = Number(process.env.BENCH_SECONDS ?? 5)
const rounds = Number(process.env.BENCH_ROUNDS ?? 5)
const workers = Number(process.env.WORKERS ?? 2)
const connections = 50

const hello = await helloBench({ workers, seconds, rounds, connections })
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

Target: ≥ 0.95× on both loads.
`
writeFileSync(resolve(ROOT, 'BENCHMARKS.md'), md)
console.log(md)
