/**
 * Rollout time against the worker count: for 2, 4 and 8 workers at the default `surge`, reloads and
 * restarts (to the handover) under a light keep-alive load, with the load's failed requests.
 */
import autocannon from 'autocannon'
import { SmoothProcess, dist, type LogLine } from '../test/helpers/proc.js'
import { rolloutBySignal } from '../test/helpers/rollout.js'

export interface CurveRow { workers: number; reloadMs: number[]; restartMs: number[]; failed: number }

/**
 * One reload (signal to `workers reloaded`) or restart (signal to the handover); its duration in ms.
 * A rollout that fails (a new worker not ready in time, say) is a figure too: Infinity (printed n/a,
 * and a median it reaches misses its target), with the reason on stderr.
 */
export async function rolloutMs(p: SmoothProcess, kind: 'reload' | 'restart'): Promise<number> {
  const from = p.logs.length
  let line: LogLine
  try {
    line = await rolloutBySignal(p, kind, 120_000)
  } catch (err) {
    console.error(`${kind} failed: ${(err as Error).message}`)
    return Infinity
  }
  if (kind === 'restart') await p.waitFor('the old generation to leave', (l) => l.msg === 'all servers shutdown', 120_000, from)
  return Number(line.durationMs)
}

export async function curveBench(opts: { workerCounts: number[]; count: number }): Promise<CurveRow[]> {
  const rows: CurveRow[] = []
  for (const workers of opts.workerCounts) {
    const p = new SmoothProcess(dist('bench/apps/smooth-hello.js'), { WORKERS: String(workers) })
    try {
      const port = await p.ready(60_000)
      let done!: (r: autocannon.Result) => void
      const result = new Promise<autocannon.Result>((r) => (done = r))
      const load = autocannon({ url: `http://127.0.0.1:${port}/`, connections: 10, duration: 600, timeout: 5 }, (_e, r) => done(r))
      const row: CurveRow = { workers, reloadMs: [], restartMs: [], failed: 0 }
      for (let i = 0; i < opts.count; i++) {
        row.reloadMs.push(await rolloutMs(p, 'reload'))
        row.restartMs.push(await rolloutMs(p, 'restart'))
      }
      load.stop()
      const r = await result
      row.failed = r.errors + r.timeouts + r.non2xx
      rows.push(row)
    } finally {
      p.kill()
    }
  }
  return rows
}

