import type { EventEmitter } from 'node:events'
import type { PredecessorFrame, SuccessorFrame } from '../../protocol.js'
import type { WorkerSlot } from '../workers.js'
import { addDrainConnections } from '../handoff.js'
import type { Primary } from '../context.js'
import { restartCanary } from '../canary-restart.js'

/** The new side's end of the status channel (status-channel.ts's StatusClient; a fake in unit tests). */
export interface PredecessorChannel extends EventEmitter {
  readonly closed: boolean
  send(frame: SuccessorFrame): void
  close(): void
}

/**
 * A successor's start-up, the new side of a restart: joining -welcomed-> replacing -replaced->
 * awaitingHandover -takeOver-> idle. One worker at a time per lane (`surge` lanes), and the previous
 * generation retires one of its workers for each of ours that accepts, so both together never run
 * more than N + surge workers. A predecessor that goes away ends each wait at once: we serve alone.
 */
export async function startAfterPredecessor(p: Primary, channel: PredecessorChannel): Promise<void> {
  const { upgrade, workerCounts, timings, os, rollouts } = p
  const pool = p.pool!
  const cfg = p.config.process
  upgrade.join()
  const frames: PredecessorFrame[] = []
  // Every waiter is woken by a frame (the lanes below wait side by side).
  const waiters = new Set<() => void>()
  const wake = (): void => { for (const w of waiters) w(); waiters.clear() }
  workerCounts.connect((f) => channel.send(f))
  channel.on('frame', (f: PredecessorFrame) => {
    if (workerCounts.onFrame(f)) return
    // From here on the old generation's counts are ours to carry.
    if (f.t === 'handover') workerCounts.tookOver(f.metrics)
    frames.push(f)
    wake()
  })
  channel.on('close', () => {
    workerCounts.lost()
    wake()
  })
  const next = async <T extends PredecessorFrame['t']>(t: T, timeoutMs: number): Promise<Extract<PredecessorFrame, { t: T }> | undefined> => {
    const deadline = os.now() + timeoutMs
    for (;;) {
      const i = frames.findIndex((f) => f.t === t)
      if (i >= 0) return frames.splice(i, 1)[0] as Extract<PredecessorFrame, { t: T }>
      // The previous generation is gone: nothing to wait for any more.
      if (channel.closed || os.now() >= deadline) return undefined
      await Promise.race([new Promise<void>((r) => waiters.add(r)), os.sleep(Math.max(0, deadline - os.now()))])
    }
  }
  const reportDeath = (slot: WorkerSlot): void => {
    if (slot.crashed && !channel.closed) channel.send({ t: 'workerDied', workerPid: slot.pid, code: slot.exitCode })
  }
  pool.on('exit', reportDeath)
  try {
    const welcome = await next('welcome', timings.handoverMs)
    if (welcome) {
      upgrade.predecessorPid = welcome.pid
      Object.assign(p.counters, welcome.counters)
      if (welcome.counters.metrics) p.metrics.seed(welcome.counters.metrics)
      rollouts.adopt(welcome.history, welcome.restart)
    }
    // The one place a restart is counted: by the generation it made.
    p.counters.restarts++
    upgrade.welcomed()
    // A canary first (canary-restart.ts): promoted, its workers are the first ones of the lanes below.
    const asked = rollouts.current?.canaryAsked
    const promoted = asked ? await restartCanary(pool, rollouts.current, { asked, own: cfg.canary.settings, channel, workerCounts,
      settleMs: timings.workerSettleMs, readyTimeoutMs: cfg.readyTimeoutMs, gracefulTimeoutMs: cfg.gracefulTimeoutMs,
      stopped: () => p.stopRequested(), metrics: p.metrics, log: p.log }) : []
    // `surge` lanes side by side, each starting one worker and waiting for an old one to retire
    // before its next: both generations together never run more than N + surge workers.
    let toStart = pool.size
    let readyCount = 0
    const lane = async (): Promise<void> => {
      while (toStart > 0) {
        // Told to stop while starting (the old generation was told first): no more workers.
        if (p.stopRequested()) return
        toStart--
        const slot = promoted.shift() ?? pool.fork(timings.workerSettleMs)
        await pool.whenAccepting(slot, cfg.readyTimeoutMs)
        channel.send({ t: 'workerReady', workerPid: slot.pid })
        if (rollouts.current) {
          rollouts.current.progress.done = ++readyCount
          rollouts.current.progress.step = `new worker ${slot.pid} ready; an old one retires`
        }
        const retired = await next('retired', cfg.gracefulTimeoutMs + timings.successorStepMarginMs)
        if (retired?.t === 'retired' && rollouts.current) addDrainConnections(rollouts.current, retired.connections)
      }
    }
    await Promise.all(Array.from({ length: Math.min(cfg.surge, pool.size) }, lane))
    if (p.stopRequested()) return
    upgrade.replaced()
    channel.send({ t: 'ready' })
    await next('handover', timings.handoverMs)
    const restart = rollouts.current
    if (restart) {
      restart.progress.done = restart.progress.total
      restart.progress.step = 'handed over'
      rollouts.finish(restart)
      p.metrics.rollout('restart', 'success', (restart.durationMs ?? 0) / 1000)
    }
    pool.off('exit', reportDeath)
    channel.close()
  } finally {
    // Handed over, the predecessor gone, or stopping: from here on this generation stands alone.
    upgrade.takeOver()
    if (upgrade.predecessorPid !== undefined) void forgetPredecessorOnExit(p, upgrade.predecessorPid)
  }
}

/**
 * The previous generation still exits after the handover (its listeners closed, its drains done,
 * its last log line); until it has, a restart of ours waits (old-side.ts): never three generations.
 * Bounded by its drains: past them, it is forgotten (stuck, or its pid since reused) and we go on.
 * Polled: it is not our child (the anchor's, or our parent's), so no exit event reaches us.
 */
async function forgetPredecessorOnExit(p: Primary, pid: number): Promise<void> {
  const { upgrade, os } = p
  const waitMs = p.config.process.gracefulTimeoutMs + p.timings.drainKillMarginMs
  const deadline = os.now() + waitMs
  while (os.running(pid)) {
    if (os.now() >= deadline) {
      p.log.warn({ predecessor: pid, waitedMs: waitMs }, 'previous generation still running after its drains: no longer waited for')
      break
    }
    await os.sleep(p.timings.predecessorPollMs)
  }
  if (upgrade.predecessorPid === pid) upgrade.predecessorPid = undefined
}
