import type { Logger } from 'pino'
import type { WorkerSlot } from './worker-slot.js'
import type { Os, Timer } from './os.js'
import type { Timings } from './timings.js'

/** What a drain needs of the pool (workers.ts's WorkerPool). */
export interface DrainHost {
  readonly os: Os
  readonly timings: Timings
  readonly log: Logger
  /** Silence after which a worker counts as stuck (set by the watchdog). */
  readonly silentAfterMs: number
  /** A drain hands idle keep-alive connections to ready workers (workers.ts). */
  handOffOnDrain(slot: WorkerSlot): boolean
  /** Re-balances accepting workers (one that drains may leave a paused one the last). */
  balance(): void
  emit(event: 'drained', slot: WorkerSlot, ms: number): boolean
}

/**
 * Takes a worker out of rotation and lets it finish its connections, then it exits. The worker
 * forces its own connections at `timeoutMs`, unless its event loop is stuck: then it is killed at
 * that deadline. The margin after it covers the onClose hooks of one that answers.
 */
export function drainSlot(pool: DrainHost, slot: WorkerSlot, timeoutMs: number): Promise<void> {
  if (slot.state === 'dead') return Promise.resolve()
  // Asked twice (a shutdown during a reload, say): the first drain goes on, as in the worker.
  if (slot.state === 'draining') return slot.exited
  if (slot.state === 'starting') {
    // Nothing was handed to it yet: no drain needed.
    slot.state = 'draining'
    slot.kill('SIGKILL')
    return slot.exited
  }
  const { os, timings } = pool
  slot.state = 'draining'
  // A worker paused under pressure may be the only one left to accept now.
  pool.balance()
  const since = os.now()
  void slot.exited.then(() => pool.emit('drained', slot, os.now() - since))
  slot.send({ act: 'drain', timeoutMs, handOff: pool.handOffOnDrain(slot) })
  let poll: Timer | undefined
  const deadline = os.setTimeout(() => {
    const check = (): void => {
      if (os.now() - slot.lastSeen > pool.silentAfterMs) killForced(pool, slot, 'worker not responding at its drain deadline: killed')
    }
    check()
    poll = os.setInterval(check, timings.drainPollMs)
  }, timeoutMs)
  const hardKill = os.setTimeout(() => killForced(pool, slot, 'worker did not exit after its drain: killed'), timeoutMs + timings.drainKillMarginMs)
  return slot.exited.finally(() => {
    os.clearTimeout(deadline)
    os.clearInterval(poll)
    os.clearTimeout(hardKill)
  })
}

/**
 * SIGKILL for a draining worker past its deadline: its connections are lost, so the drain counts as
 * forced (with the connections it last reported, at least one).
 */
export function killForced(pool: DrainHost, slot: WorkerSlot, why: string): void {
  if (slot.state === 'dead') return
  slot.forced = Math.max(slot.forced, slot.stats?.connections ?? 0, 1)
  pool.log.error({ worker: slot.id, workerPid: slot.pid, forced: slot.forced, silentForMs: pool.os.now() - slot.lastSeen }, why)
  slot.kill('SIGKILL')
}
