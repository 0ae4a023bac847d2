/**
 * `node dist/bench/tls-rollout-run.js`: only the HTTPS / HTTP/2 rollout rows of `npm run bench`,
 * printed (BENCHMARKS.md is left alone). BENCH_ROLLOUT_SECONDS, BENCH_ROLLOUTS, WORKERS, BENCH_PM2=0.
 */
import { tlsRolloutBench, tlsRolloutSection } from './tls-rollout.js'

const workers = Number(process.env.WORKERS ?? 2)
const rows = await tlsRolloutBench({
  workers,
  seconds: Number(process.env.BENCH_ROLLOUT_SECONDS ?? 24),
  count: Number(process.env.BENCH_ROLLOUTS ?? 5),
  pm2: process.env.BENCH_PM2 !== '0',
})
console.log(tlsRolloutSection(rows, workers))
