/**
 * Hand-off cost: Smooth against plain node:cluster + Fastify, same worker count, side by side in one
 * run, on two loads: keep-alive requests/s, and new connections/s (one request per connection).
 * Runs alternate A B B A ... so drift on a noisy machine hits both alike; the median ratio is reported.
 */
import { SmoothProcess, dist } from '../test/helpers/proc.js'
import { wrk, type WrkResult } from './wrk.js'

export interface HelloResult { load: string; smooth: number[]; cluster: number[]; ratio: number; errors: number }

export const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

export async function serve(kind: 'smooth' | 'cluster', workers: number, env: Record<string, string> = {}): Promise<SmoothProcess> {
  const p = new SmoothProcess(dist('bench/apps', `${kind}-hello.js`), { WORKERS: String(workers), ...env })
  await p.waitForMsg('server ready', 30_000)
  return p
}

export async function helloBench(opts: { workers: number; seconds: number; rounds: number; connections: number }): Promise<HelloResult[]> {
  // Metrics off: this measures the hand-off alone (metrics.ts measures what metrics cost).
  const smooth = await serve('smooth', opts.workers, { SMOOTH_METRICS: 'false' })
  const cluster = await serve('cluster', opts.workers)
  const url = (p: SmoothProcess) => `http://127.0.0.1:${p.logs.find((l) => l.msg === 'server ready' && l.port)?.port ?? p.ports()[0]}/`
  const results: HelloResult[] = []
  try {
    for (const load of [{ name: 'keep-alive requests/s', close: false }, { name: 'new connections/s (Connection: close)', close: true }]) {
      const s: WrkResult[] = []
      const c: WrkResult[] = []
      // warm-up both
      await wrk(url(smooth), { connections: opts.connections, seconds: 2, close: load.close })
      await wrk(url(cluster), { connections: opts.connections, seconds: 2, close: load.close })
      for (let r = 0; r < opts.rounds; r++) {
        const order = r % 2 === 0 ? ['s', 'c'] : ['c', 's']
        for (const who of order) {
          const res = await wrk(url(who === 's' ? smooth : cluster), { connections: opts.connections, seconds: opts.seconds, close: load.close })
          ;(who === 's' ? s : c).push(res)
        }
      }
      const ratios = s.map((x, i) => x.rps / c[i]!.rps)
      results.push({
        load: load.name,
        smooth: s.map((x) => Math.round(x.rps)),
        cluster: c.map((x) => Math.round(x.rps)),
        ratio: median(ratios),
        errors: s.reduce((a, x) => a + x.errors + x.non2xx, 0),
      })
    }
  } finally {
    smooth.kill()
    cluster.kill()
  }
  return results
}
