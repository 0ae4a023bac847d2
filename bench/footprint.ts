/**
 * Footprint: resident memory of each process of the tree once idle (Smooth: anchor, primary,
 * workers; plain node:cluster: primary, workers), and cold start to the first 200 (spawn to the first
 * answered GET /), side by side, alternating, `rounds` times each.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { SmoothProcess, dist } from '../test/helpers/proc.js'
import { get } from '../test/helpers/http.js'
import { childrenOf, rssMiB, memoryMiB } from './tree.js'
import { median } from './hello.js'
import { freePort } from '../test/helpers/ports.js'

export interface FootprintRun {
  coldStartMs: number
  roles: Record<string, number>
  totalMiB: number
  /** Of the total RSS, the part backed by files (the node binary's pages, counted in every process). */
  fileMiB: number
  /** Proportional set size of the tree: shared pages counted once. */
  pssMiB: number
}
export interface FootprintResult { smooth: FootprintRun[]; cluster: FootprintRun[]; rssRatio: number; pssRatio: number; coldRatio: number }


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
    const workerPids = childrenOf(primary)
    workerPids.forEach((w, i) => (roles[`worker ${i + 1}`] = rssMiB(w)))
    const mem = [...(kind === 'smooth' ? [p.pid] : []), primary, ...workerPids].map(memoryMiB)
    const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0)
    return { coldStartMs, roles, totalMiB: sum(Object.values(roles)), fileMiB: sum(mem.map((m) => m.fileMiB)), pssMiB: sum(mem.map((m) => m.pssMiB)) }
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
    pssRatio: median(smooth.map((s, i) => s.pssMiB / cluster[i]!.pssMiB)),
    coldRatio: median(smooth.map((s, i) => s.coldStartMs / cluster[i]!.coldStartMs)),
  }
}
