/**
 * The `surge` setting side by side: one server per surge value, all up at once and idle but for the
 * one being measured; rounds alternate between them (A B C, C B A, …), each round a reload and a
 * restart (to the handover) under 10 keep-alive connections (autocannon). The figures the default was
 * chosen from (README, "Restart and reload"). BENCH_SURGES=1,100% (default) and BENCH_SURGE_WORKERS=4.
 */
import autocannon from 'autocannon'
import { SmoothProcess, dist } from '../test/helpers/proc.js'
import { rolloutMs } from './curve.js'

export interface SurgeRow { surge: string; reloadMs: number[]; restartMs: number[]; failed: number }

export async function surgeBench(opts: { workers: number; surges: string[]; rounds: number }): Promise<SurgeRow[]> {
  const servers = opts.surges.map((surge) => new SmoothProcess(dist('bench/apps/smooth-hello.js'), { WORKERS: String(opts.workers), SMOOTH_SURGE: surge }))
  try {
    const ports = await Promise.all(servers.map((p) => p.ready(60_000)))
    const rows: SurgeRow[] = opts.surges.map((surge) => ({ surge, reloadMs: [], restartMs: [], failed: 0 }))
    for (let round = 0; round < opts.rounds; round++) {
      const order = opts.surges.map((_, i) => i)
      if (round % 2 === 1) order.reverse()
      for (const i of order) {
        let done!: (r: autocannon.Result) => void
        const result = new Promise<autocannon.Result>((r) => (done = r))
        const load = autocannon({ url: `http://127.0.0.1:${ports[i]}/`, connections: 10, duration: 600, timeout: 5 }, (_e, r) => done(r))
        rows[i]!.reloadMs.push(await rolloutMs(servers[i]!, 'reload'))
        rows[i]!.restartMs.push(await rolloutMs(servers[i]!, 'restart'))
        load.stop()
        const r = await result
        rows[i]!.failed += r.errors + r.timeouts + r.non2xx
      }
    }
    return rows
  } finally {
    for (const p of servers) p.kill()
  }
}
