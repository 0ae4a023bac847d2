import type { Logger } from 'pino'
import { SmoothError } from '../errors.js'
import type { WorkerPool, WorkerSlot } from './workers.js'
import type { RolloutRecord } from './rollout.js'

export const MAX_WORKERS = 1024

/** "3" is a count, "+1"/"-2" a change from `current`; returns the count, or throws SMOOTH_SCALE_INVALID. */
export function scaleTarget(spec: string | undefined, current: number): number {
  const text = (spec ?? '').trim()
  if (!/^[+-]?\d{1,5}$/.test(text)) throw new SmoothError('SMOOTH_SCALE_INVALID', JSON.stringify(spec ?? ''), 'give a worker count (3) or a change (+1, -1)')
  const n = /^[+-]/.test(text) ? current + Number(text) : Number(text)
  if (n < 1 || n > MAX_WORKERS) throw new SmoothError('SMOOTH_SCALE_INVALID', String(n), `the worker count must stay between 1 and ${MAX_WORKERS} (now ${current})`)
  return n
}

export interface ScaleOptions {
  readyTimeoutMs: number
  gracefulTimeoutMs: number
  settleMs: number
  log: Logger
  /** A worker that must not be the one to leave (it holds the request waiting for this). */
  keep?: WorkerSlot | undefined
}

/**
 * Changes the worker count of a running generation. Up: the new workers accept before the pool's
 * size changes (a worker failing to start leaves the pool as it was). Down: the size changes first, so
 * the workers that drain are not replaced; the newest ones leave (the oldest have warm caches).
 */
export async function scaleTo(pool: WorkerPool, target: number, rec: RolloutRecord, opts: ScaleOptions): Promise<void> {
  const live = pool.live().filter((s) => s.state === 'ready' || s.state === 'starting')
  const ready = [...live.filter((s) => s === opts.keep), ...live.filter((s) => s !== opts.keep)]
  const from = pool.size
  rec.progress.total = Math.abs(target - ready.length)
  if (target > ready.length) {
    rec.progress.step = `starting ${target - ready.length} worker(s)`
    const fresh = Array.from({ length: target - ready.length }, () => pool.fork(opts.settleMs))
    try {
      await Promise.all(fresh.map((s) => pool.whenAccepting(s, opts.readyTimeoutMs).then(() => { rec.progress.done++ })))
    } catch (err) {
      for (const s of fresh) if (s.state !== 'dead') s.kill('SIGKILL')
      await Promise.all(fresh.map((s) => s.exited))
      // The new worker's own reason (SMOOTH_WORKER_EXITED_BEFORE_READY / _NOT_READY) is the scale's.
      throw err instanceof SmoothError ? err : new SmoothError('SMOOTH_ROLLOUT_FAILED', 'scale', (err as Error).message)
    }
    pool.resize(target)
  } else {
    pool.resize(target)
    const leaving = ready.slice(target)
    rec.progress.step = `draining worker(s) ${leaving.map((s) => s.pid).join(', ')}`
    await Promise.all(leaving.map((s) => pool.drain(s, opts.gracefulTimeoutMs).then(() => { rec.progress.done++ })))
  }
  opts.log.info({ from, to: target, workers: pool.live().map((s) => s.pid) }, 'workers scaled')
}
