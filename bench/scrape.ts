/**
 * Scrape latency of /metrics: at `idleWorkers` workers with no load, and at `workers` workers during
 * reloads under a light load (scrapes one after another for the whole run; the worst one counts).
 */
import autocannon from 'autocannon'
import { SmoothProcess, dist } from '../test/helpers/proc.js'
import { get } from '../test/helpers/http.js'
import { median } from './hello.js'

export interface ScrapeResult { idleWorkers: number; idleMs: number[]; workers: number; reloadMs: number[]; reloads: number }

async function timed(url: string): Promise<number> {
  const t0 = performance.now()
  const r = await get(url, { timeoutMs: 10_000 })
  if (r.status !== 200) throw new Error(`scrape answered ${r.status}`)
  return performance.now() - t0
}

export async function scrapeBench(opts: { idleWorkers: number; workers: number; scrapes: number; reloads: number }): Promise<ScrapeResult> {
  const idleMs: number[] = []
  const idle = new SmoothProcess(dist('bench/apps/smooth-hello.js'), { WORKERS: String(opts.idleWorkers) })
  try {
    const port = await idle.ready(60_000)
    await timed(`http://127.0.0.1:${port}/metrics`)
    for (let i = 0; i < opts.scrapes; i++) idleMs.push(await timed(`http://127.0.0.1:${port}/metrics`))
  } finally {
    idle.kill()
  }
  const reloadMs: number[] = []
  const p = new SmoothProcess(dist('bench/apps/smooth-hello.js'), { WORKERS: String(opts.workers) })
  try {
    const port = await p.ready(60_000)
    const load = autocannon({ url: `http://127.0.0.1:${port}/`, connections: 10, duration: 600, timeout: 5 }, () => {})
    let reloading = true
    const scraper = (async () => { while (reloading) reloadMs.push(await timed(`http://127.0.0.1:${port}/metrics`)) })()
    for (let i = 0; i < opts.reloads; i++) {
      const from = p.logs.length
      p.signal('SIGUSR2')
      await p.waitForMsg('workers reloaded', 60_000, from)
    }
    reloading = false
    await scraper
    load.stop()
  } finally {
    p.kill()
  }
  return { idleWorkers: opts.idleWorkers, idleMs, workers: opts.workers, reloadMs, reloads: opts.reloads }
}

export const scrapeSummary = (xs: number[]): { median: number; max: number } => ({ median: median(xs), max: Math.max(...xs) })
