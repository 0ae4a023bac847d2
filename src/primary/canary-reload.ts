import type { Logger } from 'pino'
import { SmoothError } from '../errors.js'
import { surgeOf } from '../config/resolve.js'
import type { WorkerPool, WorkerSlot } from './workers.js'
import type { RolloutRecord } from './rollout.js'
import type { CanaryDecision, CanarySettings, Counts } from './canary.js'
import { countsOf } from './canary-counts.js'
import { canaryError, firstDeath, watchCanary, type CanaryView } from './canary-run.js'

export interface ReloadCanaryOptions {
  settings: CanarySettings
  settleMs: number
  readyTimeoutMs: number
  gracefulTimeoutMs: number
  stopped(): boolean
  /** The decision, once made (metrics). */
  decided(d: CanaryDecision): void
  log: Logger
}

/** How many new workers serve as the canary: `share` of the workers, at least one. */
export function canaryWorkers(share: number | string, workers: number): number {
  return surgeOf(share, workers)
}

/**
 * A reload's canary: `share` new workers start beside all the old ones (which keep serving: N + share
 * processes for the window), and serve real traffic for the window. Promoted, they are returned, and
 * the rolling reload retires an old worker for each before it starts any other. Rolled back (errors,
 * latency, the check, a crash), they drain and the reload fails with the reason; the old workers never
 * noticed. A shutdown during the window ends it: the shutdown drains every worker, canaries included.
 */
export async function reloadCanary(pool: WorkerPool, rec: RolloutRecord, o: ReloadCanaryOptions): Promise<WorkerSlot[]> {
  const old = pool.live().filter((s) => s.state === 'ready' || s.state === 'starting')
  const canaries = Array.from({ length: canaryWorkers(o.settings.share, pool.size) }, () => pool.fork(o.settleMs))
  rec.progress.step = `starting ${canaries.length} canary worker(s)`
  try {
    await Promise.all(canaries.map((s) => pool.whenAccepting(s, o.readyTimeoutMs)))
  } catch (err) {
    for (const s of canaries) if (s.state !== 'dead') s.kill('SIGKILL')
    await Promise.all(canaries.map((s) => s.exited))
    throw err
  }
  rec.progress.step = `canary: ${canaries.map((s) => s.pid).join(', ')} serving beside the old workers`
  const decision = await watchCanary({
    settings: o.settings,
    workers: canaries.map((s) => s.pid),
    log: o.log,
    stopped: o.stopped,
    crashed: firstDeath(canaries),
    update: (view: CanaryView) => { rec.canary = view },
    sample: async () => {
      const dumps = await pool.collectMetrics()
      const side = (group: WorkerSlot[]): Map<string, Counts> =>
        new Map(dumps.filter(([slot]) => group.includes(slot)).map(([slot, m]) => [String(slot.pid), countsOf(m)]))
      return { canary: side(canaries), old: side(old) }
    },
  })
  if (decision === 'stopped') throw new SmoothError('SMOOTH_SHUTTING_DOWN')
  o.decided(decision)
  if (decision.result === 'promoted') {
    rec.progress.step = 'canary promoted: rolling the other workers'
    return canaries.filter((s) => s.state === 'ready')
  }
  rec.progress.step = `canary rolled back (${decision.reason}): draining it`
  await Promise.all(canaries.map((s) => pool.drain(s, o.gracefulTimeoutMs)))
  throw canaryError(decision)
}
