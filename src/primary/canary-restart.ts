import type { Logger } from 'pino'
import type { WorkerPool, WorkerSlot } from './workers.js'
import type { RolloutRecord } from './rollout.js'
import type { CanarySettings } from './canary.js'
import type { PredecessorChannel } from './upgrade/new-side.js'
import type { PrimaryMetrics } from '../metrics/primary-metrics.js'
import type { WorkerCounts } from '../metrics/worker-counts.js'
import { countsOf } from './canary-counts.js'
import { canaryWorkers } from './canary-reload.js'
import { canaryError, firstDeath, watchCanary, type CanaryView } from './canary-run.js'

export interface RestartCanaryOptions {
  /** The settings the old generation asked for (from the restart's record); our own check function if it sent none. */
  asked: CanarySettings
  own: CanarySettings
  channel: PredecessorChannel
  workerCounts: WorkerCounts
  settleMs: number
  readyTimeoutMs: number
  gracefulTimeoutMs: number
  stopped(): boolean
  metrics: PrimaryMetrics
  log: Logger
}

/**
 * A restart's canary, run by the new generation: its first `share` workers serve beside every worker
 * of the old generation (none retires yet) and are compared with them: their counts from our pool,
 * the old generation's from the status channel (the same counts a scrape exchanges). The figures go
 * to the old generation at every sample, so its status (which the admin, the CLI and `smooth status`
 * read during a restart) shows them. Promoted: the workers are returned, and the start-up goes on
 * with them as its first ones. Rolled back: they drain, and we fail with the reason's code, which the
 * old generation records as the restart's; it never stopped serving. Resolves [] when a shutdown came.
 */
export async function restartCanary(pool: WorkerPool, rec: RolloutRecord | undefined, o: RestartCanaryOptions): Promise<WorkerSlot[]> {
  const settings: CanarySettings = { ...o.asked, ...(o.asked.check ? {} : o.own.check ? { check: o.own.check } : {}) }
  const canaries = Array.from({ length: canaryWorkers(settings.share, pool.size) }, () => pool.fork(o.settleMs))
  // A worker that fails to start fails the start-up as it would without a canary.
  await Promise.all(canaries.map((s) => pool.whenAccepting(s, o.readyTimeoutMs)))
  o.metrics.canary('restart', 'started')
  const update = (view: CanaryView): void => {
    if (rec) rec.canary = view
    o.channel.send({ t: 'canary', view })
  }
  const decision = await watchCanary({
    settings,
    workers: canaries.map((s) => s.pid),
    log: o.log,
    stopped: o.stopped,
    crashed: firstDeath(canaries),
    update,
    sample: async () => {
      const [dumps, old] = await Promise.all([pool.collectMetrics(), o.workerCounts.peerCounts()])
      const mine = new Map(dumps.filter(([slot]) => canaries.includes(slot)).map(([slot, m]) => [String(slot.pid), countsOf(m)]))
      return { canary: mine, old: new Map(old.length > 0 ? [['old generation', countsOf(old)]] : []) }
    },
  })
  if (decision === 'stopped') return []
  o.metrics.canary('restart', decision.result)
  if (decision.result === 'promoted') return canaries.filter((s) => s.state === 'ready')
  await Promise.all(canaries.map((s) => pool.drain(s, o.gracefulTimeoutMs)))
  throw canaryError(decision)
}

/** The old generation's side: the canary's figures into the restart's record, its start and end into metrics. */
export function canaryFrame(rec: RolloutRecord, view: CanaryView, metrics: PrimaryMetrics): void {
  if (!rec.canary) metrics.canary('restart', 'started')
  if (view.phase === 'promoted' || view.phase === 'rolled_back') {
    if (rec.canary?.phase === 'watching' || !rec.canary) metrics.canary('restart', view.phase)
  }
  rec.canary = view
}
