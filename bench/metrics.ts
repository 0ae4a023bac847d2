/**
 * What metrics cost: the same Smooth hello-world with metrics on (the default) and off, side by side,
 * keep-alive load, runs alternating so drift hits both alike; the median per-round ratio is reported.
 */
import { wrk, type WrkResult } from './wrk.js'
import { serve, median } from './hello.js'
import type { SmoothProcess } from '../test/helpers/proc.js'

export interface MetricsOverhead { on: number[]; off: number[]; ratio: number; errors: number }

export async function metricsBench(opts: { workers: number; seconds: number; rounds: number; connections: number }): Promise<MetricsOverhead> {
  const on = await serve('smooth', opts.workers, { SMOOTH_METRICS: 'true' })
  const off = await serve('smooth', opts.workers, { SMOOTH_METRICS: 'false' })
  const url = (p: SmoothProcess) => `http://127.0.0.1:${p.ports()[0]}/`
  try {
    await wrk(url(on), { connections: opts.connections, seconds: 2, close: false })
    await wrk(url(off), { connections: opts.connections, seconds: 2, close: false })
    const a: WrkResult[] = []
    const b: WrkResult[] = []
    for (let r = 0; r < opts.rounds; r++) {
      for (const who of r % 2 === 0 ? ['on', 'off'] : ['off', 'on']) {
        const res = await wrk(url(who === 'on' ? on : off), { connections: opts.connections, seconds: opts.seconds, close: false })
        ;(who === 'on' ? a : b).push(res)
      }
    }
    return {
      on: a.map((x) => Math.round(x.rps)),
      off: b.map((x) => Math.round(x.rps)),
      ratio: median(a.map((x, i) => x.rps / b[i]!.rps)),
      errors: [...a, ...b].reduce((n, x) => n + x.errors + x.non2xx, 0),
    }
  } finally {
    on.kill()
    off.kill()
  }
}
