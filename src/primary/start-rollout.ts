import { SmoothError } from '../errors.js'
import { noteSettingsForRestart } from './config-changes.js'
import { rollingReload } from './reload.js'
import { scaleTarget, scaleTo } from './scale.js'
import { planLaunch, type LaunchPlan } from './successor.js'
import { startDir } from './launch.js'
import type { RolloutRecord } from './rollout.js'
import type { WorkerSlot } from './workers.js'
import type { Primary, RequesterHooks } from './context.js'
import { handOver, restoreService, retire } from './upgrade/old-side.js'
import { reloadCanary } from './canary-reload.js'
import { canaryFor, canaryReasonOf, type CanaryRequest } from './canary-request.js'

type Started = { rec: RolloutRecord; done: Promise<RolloutRecord> }

/** Refuses what cannot run now: graceful off, not serving yet (or any more), a rollout or restart under way. */
function refuseUnlessServing(p: Primary): void {
  if (p.state !== 'serving') throw new SmoothError(p.state === 'starting' || p.state === 'collecting' ? 'SMOOTH_ROLLOUT_IN_PROGRESS' : 'SMOOTH_SHUTTING_DOWN', 'start-up')
  // A failed restart still restoring the service (a full restart binding its ports again).
  if (!p.upgrade.idle) throw new SmoothError('SMOOTH_ROLLOUT_IN_PROGRESS', 'restart')
}

/** Refuses what cannot run now; returns the rollout record otherwise. */
function beginRollout(p: Primary, kind: 'reload' | 'restart', reason: string): RolloutRecord {
  if (!p.config?.process.graceful) throw new SmoothError('SMOOTH_GRACEFUL_DISABLED')
  refuseUnlessServing(p)
  const rec = p.rollouts.begin(kind, p.pool!.size)
  p.log.info({ kind, reason, rollout: rec.id }, kind === 'restart' ? 'server reloading' : 'workers reloading')
  p.publishState()
  return rec
}

/**
 * Starts a rollout and returns its record at once (the admin answers 202 with it); `done` settles
 * when it has finished. Refusals (graceful off, another rollout running, a bad path) throw here,
 * before anything changes.
 */
export function startRollout(p: Primary, kind: 'reload' | 'restart', reason: string, newExeFilePath?: string, hooks: RequesterHooks = {}, canaryRequest?: CanaryRequest): Started {
  const { log, config, counters } = p
  let rec: RolloutRecord
  let plan: LaunchPlan | undefined
  let canary: ReturnType<typeof canaryFor>
  try {
    if (kind === 'restart') plan = planLaunch(newExeFilePath)
    if (config) canary = canaryFor(config.process.canary, canaryRequest)
    rec = beginRollout(p, kind, reason)
    // A restart's canary is run by the new generation: it reads the settings off the record.
    if (canary && kind === 'restart') rec.canaryAsked = canary
  } catch (err) {
    log.warn({ reason, code: (err as SmoothError).code }, `${kind} refused: ${(err as Error).message}`)
    p.lastRefused = { kind, code: (err as SmoothError).code ?? 'ERROR', message: (err as Error).message, at: Date.now() }
    p.publishState()
    throw err
  }
  const pool = p.pool!
  const proc = config.process
  if (kind === 'reload') noteSettingsForRestart(log, config, p.started.map((s) => ({ name: s.name, settings: s.settings })), startDir(p.launch))
  const run = plan
    ? handOver(p, plan, rec, hooks).then(() => { setImmediate(() => void retire(p)) })
    : rollingReload(pool, rec, { surge: proc.surge, readyTimeoutMs: proc.readyTimeoutMs, gracefulTimeoutMs: proc.gracefulTimeoutMs, settleMs: p.timings.workerSettleMs, log, ...hooks,
      canary: canary && (() => {
        p.metrics.canary(kind, 'started')
        return reloadCanary(pool, rec, { settings: canary!, settleMs: p.timings.workerSettleMs, readyTimeoutMs: proc.readyTimeoutMs, gracefulTimeoutMs: proc.gracefulTimeoutMs,
          stopped: () => p.stopRequested(), decided: (d) => p.metrics.canary(kind, d.result), log })
      }) })
      .then(() => { counters.reloads++ })
  const done = run.then(() => {
    p.rollouts.finish(rec)
    p.publishState()
    p.metrics.rollout(kind, 'success', (rec.durationMs ?? 0) / 1000)
    log.info({ rollout: rec.id, kind, durationMs: rec.durationMs, connections: rec.connections }, kind === 'reload' ? 'workers reloaded' : 'server restarted')
    return rec
  }, (err: unknown) => {
    counters.rolloutFailures++
    p.rollouts.finish(rec, err)
    p.publishState()
    const canaryReason = canaryReasonOf((err as SmoothError).code)
    p.metrics.rollout(kind, canaryReason ? 'rolled_back' : 'failure', (rec.durationMs ?? 0) / 1000, canaryReason)
    log.error({ rollout: rec.id, kind, code: (err as SmoothError).code }, `${kind === 'restart' ? 'server restarts' : 'reload'} failed: ${(err as Error).message}`)
    // A failed restart restores what it let go of (upgrade/old-side.ts); a failed reload refills.
    if (plan) restoreService(p)
    else if (p.state === 'serving') pool.refill()
    throw err
  })
  done.catch(() => {})
  return { rec, done }
}

/** Changes the worker count (smooth scale, the admin's scale, SIGTTIN/SIGTTOU); one rollout at a time. */
export function startScale(p: Primary, spec: string | undefined, reason: string, keep?: WorkerSlot): Started {
  refuseUnlessServing(p)
  const { log, counters } = p
  const pool = p.pool!
  const proc = p.config.process
  const target = scaleTarget(spec, pool.size)
  const rec = p.rollouts.begin('scale', Math.abs(target - pool.size))
  log.info({ reason, rollout: rec.id, from: pool.size, to: target }, 'workers scaling')
  const done = scaleTo(pool, target, rec, { readyTimeoutMs: proc.readyTimeoutMs, gracefulTimeoutMs: proc.gracefulTimeoutMs, settleMs: p.timings.workerSettleMs, log, keep })
    .then(() => {
      p.rollouts.finish(rec)
      p.metrics.rollout('scale', 'success', (rec.durationMs ?? 0) / 1000)
      return rec
    }, (err: unknown) => {
      counters.rolloutFailures++
      p.rollouts.finish(rec, err)
      p.metrics.rollout('scale', 'failure', (rec.durationMs ?? 0) / 1000)
      log.error({ rollout: rec.id, code: (err as SmoothError).code }, `scale failed: ${(err as Error).message}`)
      throw err
    })
  done.catch(() => {})
  return { rec, done }
}
