/**
 * Footprint: resident memory of each process of the tree once idle (Smooth: anchor, primary,
 * workers; plain node:cluster: primary, workers), and cold start to the first 200 (spawn to the first
 * answered GET /), side by side, alternating, `rounds` times each.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { SmoothProcess, dist } from '../test/helpers/proc.js'
import { get } from '../test/helpers/http.js'
import { childrenOf, rssMiB } from './tree.js'
import { median } from './hello.js'
import { freePort } from '../test/helpers/ports.js'

export interface FootprintRun { coldStartMs: number; roles: Record<string, number>; totalMiB: number }
export interface FootprintResult { smooth: FootprintRun[]; cluster: FootprintRun[]; rssRatio: number; coldRatio: number }


async function once(kind: 'smooth' | 'cluster', workers: number): Promise<FootprintRun> {
  const port = await freePort()
  const t0 = performance.now()
  const p = new SmoothProcess(dist('bench/apps', `${kind}-hello.js`), { WORKERS: String(workers), PORT: String(port) })
  try {
    let coldStartMs = NaN
    for (const deadline = Date.now() + 30_000; Date.now() < deadline;) {
      const ok = await get(`http://127.0.0.1:${port}/`, { timeoutMs: 1000 }).then((r) => r.status === 200, () => false)
      if (ok) { coldStartMs = performance.now() - t0; break }
      await sleep(5)
    }
    await p.waitForMsg('server ready', 30_000)
    // Idle a moment: start-up garbage collected, every worker up.
    await sleep(1500)
    const roles: Record<string, number> = {}
    const primary = kind === 'smooth' ? childrenOf(p.pid)[0]! : p.pid
    if (kind === 'smooth') roles.anchor = rssMiB(p.pid)
    roles.primary = rssMiB(primary)
    childrenOf(primary).forEach((w, i) => (roles[`worker ${i + 1}`] = rssMiB(w)))
    return { coldStartMs, roles, totalMiB: Object.values(roles).reduce((a, b) => a + b, 0) }
  } finally {
    p.kill()
    await p.exited
  }
}

export async function footprintBench(opts: { workers: number; rounds: number }): Promise<FootprintResult> {
  const smooth: FootprintRun[] = []
  const cluster: FootprintRun[] = []
  for (let r = 0; r < opts.rounds; r++) {
    for (const who of r % 2 === 0 ? ['smooth', 'cluster'] as const : ['cluster', 'smooth'] as const) {
      ;(who === 'smooth' ? smooth : cluster).push(await once(who, opts.workers))
    }
  }
  return {
    smooth,
    cluster,
    rssRatio: median(smooth.map((s, i) => s.totalMiB / cluster[i]!.totalMiB)),
    coldRatio: median(smooth.map((s, i) => s.coldStartMs / cluster[i]!.coldStartMs)),
  }
}
