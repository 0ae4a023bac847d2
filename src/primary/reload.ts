import type { Logger } from 'pino'
import { SmoothError } from '../errors.js'
import type { WorkerPool, WorkerSlot } from './workers.js'
import type { RolloutRecord } from './rollout.js'

export interface ReloadOptions {
  surge: number
  readyTimeoutMs: number
  gracefulTimeoutMs: number
  /** How long a new worker must stay up after ready before it gets connections. */
  settleMs: number
  log: Logger
  /** A worker holding a wait=1 request: replaced last, and told just before it drains. */
  requester?: WorkerSlot
  beforeRequesterDrains?: (rec: RolloutRecord) => void
}

/**
 * Rolling reload: replaces the workers `surge` at a time. Each new worker loads the code from disk and
 * must accept connections before an old one stops accepting and drains, so capacity never drops
 * below N ready workers and at most N + surge worker processes exist. If a new worker dies or is not
 * ready in time, the reload stops there: the new worker is killed and the old ones keep serving.
 */
export async function rollingReload(pool: WorkerPool, rec: RolloutRecord, opts: ReloadOptions): Promise<void> {
  const live = pool.live().filter((s) => s.state === 'ready' || s.state === 'starting')
  const old = [...live.filter((s) => s !== opts.requester), ...live.filter((s) => s === opts.requester)]
  rec.progress.total = old.length
  for (let i = 0; i < old.length; i += opts.surge) {
    const batch = old.slice(i, i + opts.surge)
    rec.progress.step = `starting ${batch.length} new worker(s)`
    const fresh = batch.map(() => pool.fork(opts.settleMs))
    try {
      await Promise.all(fresh.map((s) => pool.whenAccepting(s, opts.readyTimeoutMs)))
    } catch (err) {
      for (const s of fresh) if (s.state !== 'dead') s.worker.process.kill('SIGKILL')
      await Promise.all(fresh.map((s) => s.exited))
      opts.log.error({ code: (err as SmoothError).code, rolled: i, of: old.length }, 'reload stopped: old workers keep serving')
      throw err instanceof SmoothError ? err : new SmoothError('SMOOTH_ROLLOUT_FAILED', 'reload', (err as Error).message)
    }
    rec.progress.step = `draining worker(s) ${batch.map((s) => s.pid).join(', ')}`
    if (opts.requester && batch.includes(opts.requester)) opts.beforeRequesterDrains?.(rec)
    await Promise.all(batch.map((s) => pool.drain(s, opts.gracefulTimeoutMs)))
    rec.progress.done = Math.min(old.length, i + batch.length)
    opts.log.info({ done: rec.progress.done, of: old.length, workers: fresh.map((s) => s.pid) }, 'reload progress')
  }
}
