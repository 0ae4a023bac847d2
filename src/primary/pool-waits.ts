import { SmoothError } from '../errors.js'
import type { EventEmitter } from 'node:events'
import type { WorkerSlot } from './worker-slot.js'
import type { Os } from './os.js'

/** What these waits need of the pool (workers.ts's WorkerPool): its events ('ready', 'exit', 'gaveUp'). */
export interface WaitHost extends EventEmitter {
  readonly os: Os
  live(): WorkerSlot[]
}

/** Resolves when `size()` workers accept; rejects if the pool gives up (no worker could ever start). */
export function whenFull(pool: WaitHost, size: () => number): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = (): void => {
      if (pool.live().filter((s) => s.state === 'ready').length >= size()) {
        pool.off('ready', check)
        pool.off('gaveUp', fail)
        resolve()
      }
    }
    const fail = (err: Error): void => {
      pool.off('ready', check)
      reject(err)
    }
    pool.on('ready', check)
    pool.once('gaveUp', fail)
  })
}

/**
 * Resolves when this worker accepts connections; rejects (with why) when it exits first or is not
 * ready within `timeoutMs` (it is then killed).
 */
export function whenAccepting(pool: WaitHost, slot: WorkerSlot, timeoutMs: number): Promise<void> {
  if (slot.state === 'ready') return Promise.resolve()
  const { os } = pool
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      os.clearTimeout(timer)
      pool.off('ready', onReady)
      pool.off('exit', onExit)
    }
    const onReady = (s: WorkerSlot): void => {
      if (s !== slot) return
      cleanup()
      resolve()
    }
    const onExit = (s: WorkerSlot): void => {
      if (s !== slot) return
      cleanup()
      reject(new SmoothError('SMOOTH_WORKER_EXITED_BEFORE_READY', slot.pid, `code ${s.exitCode}`))
    }
    const timer = os.setTimeout(() => {
      cleanup()
      slot.kill('SIGKILL')
      reject(new SmoothError('SMOOTH_WORKER_NOT_READY', slot.pid, timeoutMs))
    }, timeoutMs)
    pool.on('ready', onReady)
    pool.on('exit', onExit)
  })
}
