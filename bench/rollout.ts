/**
 * Restart under load: requests, errors, p99 latency in steady state and during the rollout window,
 * and rollout duration, for Smooth reload, Smooth restart and PM2 cluster `pm2 reload`, on the same
 * hello-world route, in one run. Load: autocannon, keep-alive connections, in this process.
 */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import autocannon from 'autocannon'
import { SmoothProcess, dist, ROOT } from '../test/helpers/proc.js'
import { freePort } from '../test/helpers/ports.js'
import { rolloutBySignal } from '../test/helpers/rollout.js'

const run = promisify(execFile)

export interface RolloutRow {
  system: string
  requests: number
  errors: number
  non2xx: number
  steadyP99: number
  rolloutP99: number
  rolloutMs: number
  rollouts: number
}

interface Sample { at: number; ms: number }

/** The 99th percentile of latencies in ms (NaN for none); the TLS rollout rows use it too. */
export function p99(samples: number[]): number {
  if (samples.length === 0) return NaN
  const sorted = [...samples].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))]!
}

/**
 * Runs the load for `seconds`; `rollout()` is called `count` times, spaced out, after a steady
 * first third. Latencies of responses inside any rollout window count as "during rollout".
 */
async function measure(system: string, port: number, seconds: number, count: number, rollout: () => Promise<void>): Promise<RolloutRow> {
  const samples: Sample[] = []
  const windows: Array<[number, number]> = []
  let done!: (r: autocannon.Result) => void
  const result = new Promise<autocannon.Result>((r) => (done = r))
  const inst = autocannon({ url: `http://127.0.0.1:${port}/`, connections: 50, duration: seconds, timeout: 5 }, (_e, r) => done(r))
  inst.on('response', (_c: unknown, _status: number, _bytes: number, ms: number) => samples.push({ at: Date.now(), ms }))
  const start = Date.now()
  await new Promise((r) => setTimeout(r, (seconds * 1000) / 3))
  for (let i = 0; i < count; i++) {
    const t0 = Date.now()
    await rollout()
    windows.push([t0, Date.now()])
    await new Promise((r) => setTimeout(r, 1000))
  }
  const r = await result
  const inWindow = (s: Sample) => windows.some(([a, b]) => s.at >= a && s.at <= b + 200)
  const steady = samples.filter((s) => s.at > start + 1000 && !inWindow(s)).map((s) => s.ms)
  const during = samples.filter(inWindow).map((s) => s.ms)
  return {
    system,
    requests: r.requests.total,
    errors: r.errors + r.timeouts,
    non2xx: r.non2xx,
    steadyP99: p99(steady),
    rolloutP99: p99(during),
    rolloutMs: windows.reduce((a, [x, y]) => a + (y - x), 0) / Math.max(1, windows.length),
    rollouts: windows.length,
  }
}

async function smooth(kind: 'reload' | 'restart', workers: number, seconds: number, count: number): Promise<RolloutRow> {
  const p = new SmoothProcess(dist('bench/apps/smooth-hello.js'), { WORKERS: String(workers), GRACEFUL: '1' })
  try {
    const port = await p.ready(30_000)
    return await measure(`Smooth ${kind}`, port, seconds, count, async () => { await rolloutBySignal(p, kind) })
  } finally {
    p.kill()
  }
}


async function pm2(workers: number, seconds: number, count: number): Promise<RolloutRow> {
  const home = mkdtempSync(join(tmpdir(), 'smooth-bench-pm2-'))
  const bin = resolve(ROOT, 'node_modules/.bin/pm2')
  const env = { ...process.env, PM2_HOME: home, PORT: String(await freePort()) }
  const pm = (...args: string[]) => run(bin, args, { env, timeout: 120_000 })
  try {
    await pm('start', resolve(ROOT, 'bench/apps/pm2-hello.cjs'), '-i', String(workers), '--name', 'hello', '--wait-ready', '--listen-timeout', '10000')
    return await measure('PM2 reload (cluster)', Number(env.PORT), seconds, count, async () => {
      await pm('reload', 'hello')
    })
  } finally {
    await pm('kill').catch(() => {})
    rmSync(home, { recursive: true, force: true })
  }
}

export async function rolloutBench(opts: { workers: number; seconds: number; count: number }): Promise<RolloutRow[]> {
  return [
    await smooth('reload', opts.workers, opts.seconds, opts.count),
    await smooth('restart', opts.workers, opts.seconds, opts.count),
    await pm2(opts.workers, opts.seconds, opts.count),
  ]
}
