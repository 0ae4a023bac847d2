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
  /** Runs a canary first (canary-reload.ts): its workers, once promoted, replace the first old ones. */
  canary?: () => Promise<WorkerSlot[]>
}

/**
 * Rolling reload: `surge` lanes replace the workers side by side; each lane starts a new worker, which
 * loads the code from disk and must accept connections before the old one it replaces stops
 * accepting and drains, and takes the next old worker once that one has exited. So capacity never
 * drops below N ready workers, at most N + surge worker processes exist, and a reload takes about
 * N / surge boots and drains. If a new worker dies or is not ready in time, the reload stops there:
 * the new workers not yet accepting are killed and the old ones keep serving.
 */
export async function rollingReload(pool: WorkerPool, rec: RolloutRecord, opts: ReloadOptions): Promise<void> {
  const live = pool.live().filter((s) => s.state === 'ready' || s.state === 'starting')
  const queue = live.filter((s) => s !== opts.requester)
  rec.progress.total = live.length
  const booting = new Set<WorkerSlot>()
  let failure: Error | undefined
  // A canary that is rolled back throws here: nothing else has changed.
  const promoted = opts.canary ? await opts.canary() : []

  const replace = async (old: WorkerSlot): Promise<void> => {
    const fresh = promoted.shift() ?? pool.fork(opts.settleMs)
    booting.add(fresh)
    rec.progress.step = `starting ${booting.size} new worker(s)`
    try {
      await pool.whenAccepting(fresh, opts.readyTimeoutMs)
    } catch (err) {
      failure ??= err as Error
      // One new worker failed: so would the others (same code); they do not get the service.
      for (const s of booting) if (s.state === 'starting') s.kill('SIGKILL')
      await fresh.exited
      return
    } finally {
      booting.delete(fresh)
    }
    rec.progress.step = `draining worker ${old.pid}`
    if (old === opts.requester) opts.beforeRequesterDrains?.(rec)
    await pool.drain(old, opts.gracefulTimeoutMs)
    rec.progress.done++
    opts.log.info({ done: rec.progress.done, of: live.length, workers: [fresh.pid], replaced: old.pid }, 'reload progress')
  }
  const lane = async (): Promise<void> => {
    for (let old = queue.shift(); old && !failure; old = queue.shift()) await replace(old)
  }

  await Promise.all(Array.from({ length: Math.max(1, Math.min(opts.surge, queue.length)) }, lane))
  // The requester's worker goes last: it answers the wait=1 request with the outcome of the others.
  if (opts.requester && live.includes(opts.requester) && !failure) await replace(opts.requester)
  if (failure) {
    opts.log.error({ code: (failure as SmoothError).code, err: failure.message, rolled: rec.progress.done, of: live.length }, 'reload stopped: old workers keep serving')
    throw failure instanceof SmoothError ? failure : new SmoothError('SMOOTH_ROLLOUT_FAILED', 'reload', failure.message)
  }
}
