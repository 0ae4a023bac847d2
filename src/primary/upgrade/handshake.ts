import type { EventEmitter } from 'node:events'
import { SmoothError } from '../../errors.js'
import type { PredecessorFrame, SuccessorFrame } from '../../protocol.js'
import type { Generation } from '../anchor-link.js'
import type { RolloutRecord } from '../rollout.js'
import type { Primary, RequesterHooks } from '../context.js'
import type { Timer } from '../os.js'
import { successorFailure } from '../rollback-reason.js'
import { canaryFrame } from '../canary-restart.js'
import type { CanaryView } from '../canary-run.js'

/** The old side's end of the status channel (status-channel.ts's StatusServer; a fake in unit tests). */
export interface SuccessorChannel extends EventEmitter {
  send(frame: PredecessorFrame): void
}

/**
 * The old side, from the successor's start to its handover: awaitingHello -greet-> rolling
 * -successorReady-> settling, then resolves (the caller collects the counts and hands over). Every
 * step has a deadline; a successor that exits, closes the channel, loses a worker or says it failed
 * rejects at once with that reason's code, and so does a shutdown.
 */
export function handshake(p: Primary, channel: SuccessorChannel, child: Generation, rec: RolloutRecord, hooks: RequesterHooks): Promise<void> {
  const { os, timings, upgrade } = p
  const pool = p.pool!
  const cfg = p.config.process
  return new Promise((resolve, reject) => {
    let settled = false
    let timer: Timer | undefined
    const deadline = (ms: number, err: () => SmoothError): void => {
      os.clearTimeout(timer)
      timer = os.setTimeout(() => fail(err()), ms)
    }
    const fail = (err: Error): void => {
      if (settled) return
      settled = true
      os.clearTimeout(timer)
      reject(err)
    }
    deadline(timings.successorHelloMs, () => new SmoothError('SMOOTH_SUCCESSOR_HELLO_TIMEOUT', child.pid, timings.successorHelloMs))
    const stepMs = cfg.readyTimeoutMs + cfg.gracefulTimeoutMs + timings.successorStepMarginMs
    const nextStep = (what: string): void => deadline(stepMs, () => new SmoothError('SMOOTH_SUCCESSOR_NOT_READY', child.pid, what, stepMs))
    p.onStop(() => fail(new SmoothError('SMOOTH_SHUTTING_DOWN')))
    // Its exit is reported by another channel (the anchor, or our own child handle) than its last frames:
    // those may still be on their way ("a worker died", "failed: why"), and they say more.
    void child.exited
      .then(async (gone) => { await os.sleep(timings.lastFramesMs); return gone })
      .then(({ code, signal }) => fail(new SmoothError('SMOOTH_SUCCESSOR_EXITED', child.pid, signal ? `signal ${signal}` : `exit code ${code}`)))
    // A frame out of order (a second `ready`, say) is an illegal transition: the restart fails with it.
    const guarded = <A extends unknown[]>(f: (...args: A) => void) => (...args: A): void => {
      if (settled) return
      try {
        f(...args)
      } catch (err) {
        fail(err as Error)
      }
    }
    channel.on('hello', guarded(() => {
      upgrade.greet()
      channel.send({ t: 'welcome', counters: { ...p.counters, workerCrashes: p.counters.workerCrashes + pool.crashes, metrics: p.metrics.counters() }, history: p.rollouts.history, restart: rec, pid: process.pid })
      nextStep('its first worker')
    }))
    channel.on('close', () => fail(new SmoothError('SMOOTH_STATUS_CHANNEL_CLOSED', child.pid)))
    channel.on('frame', guarded((frame: SuccessorFrame) => {
      switch (frame.t) {
        case 'workerReady': {
          nextStep('the next worker')
          rec.progress.done++
          rec.progress.step = `new worker ${frame.workerPid} ready; retiring an old one`
          // The worker holding a wait=1 request goes last, and answers it first.
          const candidates = pool.live().filter((s) => s.state === 'ready' || s.state === 'starting')
          const old = candidates.find((s) => s !== hooks.requester) ?? candidates[0]
          if (!old) return channel.send({ t: 'retired', workerPid: null })
          if (old === hooks.requester) hooks.beforeRequesterDrains?.(rec)
          void pool.drain(old, cfg.gracefulTimeoutMs).then(() => channel.send({ t: 'retired', workerPid: old.pid, ...(old.handOff ? { connections: old.handOff } : {}) }))
          return
        }
        case 'ready': {
          // Every worker of it accepts, and every one of ours has retired. It must stay up a moment
          // after saying so, as a new worker must (no signal says a process will not die right after
          // its start-up; one that does so after the handover would take the service with it). The
          // watch was 1 s from its first worker accepting; a new version that fails later is a
          // canary's to catch (canary-restart.ts).
          upgrade.successorReady()
          rec.progress.step = 'successor ready; settling'
          os.clearTimeout(timer)
          timer = os.setTimeout(() => {
            if (settled) return
            settled = true
            resolve()
          }, timings.workerSettleMs)
          return
        }
        case 'canary':
          // The new generation's canary is being watched: its figures are the restart's news.
          nextStep('the canary\'s next figures')
          canaryFrame(rec, frame.view as CanaryView, p.metrics)
          return
        case 'workerDied':
          fail(new SmoothError('SMOOTH_SUCCESSOR_WORKER_DIED', child.pid, `worker ${frame.workerPid}, exit code ${frame.code}`))
          return
        case 'failed':
          fail(successorFailure(child.pid, `${frame.code}: ${frame.message}`))
          return
      }
    }))
  })
}
