/**
 * Defaults at full speed: Smooth at its default settings (metrics on, admin on, under-pressure)
 * against plain node:cluster + Fastify, same worker count, side by side in one run, on two loads:
 * keep-alive requests/s, and new connections/s (one request per connection); and the server CPU
 * (utime + stime of the whole process tree) per request. Runs alternate A B B A ... so drift on a
 * noisy machine hits both alike; the median of the per-round ratios is reported.
 */
import { SmoothProcess, dist } from '../test/helpers/proc.js'
import { wrk, type WrkResult } from './wrk.js'
import { treeCpuMs } from './tree.js'

export interface HelloResult {
  load: string
  smooth: number[]
  cluster: number[]
  ratio: number
  /** Server CPU ms per 1000 requests, per run, and the median per-round ratio Smooth / cluster. */
  smoothCpu: number[]
  clusterCpu: number[]
  cpuRatio: number
  errors: number
}

export const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

export async function serve(kind: 'smooth' | 'cluster', workers: number, env: Record<string, string> = {}): Promise<SmoothProcess> {
  const p = new SmoothProcess(dist('bench/apps', `${kind}-hello.js`), { WORKERS: String(workers), ...env })
  await p.waitForMsg('server ready', 30_000)
  return p
}

export const urlOf = (p: SmoothProcess): string => `http://127.0.0.1:${p.logs.find((l) => l.msg === 'server ready' && l.port)?.port ?? p.ports()[0]}/`

/** One wrk run, with the CPU the server's process tree spent on it (ms per 1000 requests). */
async function measured(p: SmoothProcess, opts: { connections: number; seconds: number; close: boolean }): Promise<WrkResult & { cpuPer1k: number }> {
  const before = treeCpuMs(p.pid)
  const res = await wrk(urlOf(p), opts)
  return { ...res, cpuPer1k: ((treeCpuMs(p.pid) - before) / res.requests) * 1000 }
}

export async function helloBench(opts: { workers: number; seconds: number; rounds: number; connections: number }): Promise<HelloResult[]> {
  const smooth = await serve('smooth', opts.workers)
  const cluster = await serve('cluster', opts.workers)
  const results: HelloResult[] = []
  try {
    for (const load of [{ name: 'keep-alive requests/s', close: false }, { name: 'new connections/s (Connection: close)', close: true }]) {
      const s: Array<Awaited<ReturnType<typeof measured>>> = []
      const c: typeof s = []
      const run = { connections: opts.connections, seconds: opts.seconds, close: load.close }
      // warm-up both
      await wrk(urlOf(smooth), { ...run, seconds: 2 })
      await wrk(urlOf(cluster), { ...run, seconds: 2 })
      for (let r = 0; r < opts.rounds; r++) {
        for (const who of r % 2 === 0 ? ['s', 'c'] : ['c', 's']) {
          const res = await measured(who === 's' ? smooth : cluster, run)
          ;(who === 's' ? s : c).push(res)
        }
      }
      results.push({
        load: load.name,
        smooth: s.map((x) => Math.round(x.rps)),
        cluster: c.map((x) => Math.round(x.rps)),
        ratio: median(s.map((x, i) => x.rps / c[i]!.rps)),
        smoothCpu: s.map((x) => Math.round(x.cpuPer1k)),
        clusterCpu: c.map((x) => Math.round(x.cpuPer1k)),
        cpuRatio: median(s.map((x, i) => x.cpuPer1k / c[i]!.cpuPer1k)),
        errors: s.reduce((a, x) => a + x.errors + x.non2xx, 0),
      })
    }
  } finally {
    smooth.kill()
    cluster.kill()
  }
  return results
}
