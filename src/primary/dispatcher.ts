import type { Logger } from 'pino'
import type { RawHandle } from './listeners.js'
import { TAG, type ConnMessage } from '../protocol.js'

/** What the dispatcher needs of a worker: a way to send, and an identity. */
export interface ConnTarget {
  id: number
  send(msg: ConnMessage, handle: RawHandle, cb: (err: Error | null) => void): void
}

interface InFlight { handle: RawHandle; listener: number; target: ConnTarget }

/** How many accepted connections may wait for a ready worker before new ones are refused. */
const MAX_QUEUED = 4096

/**
 * Hands accepted connections to ready workers, round robin, and only to ready workers. Every hand-off
 * is acknowledged: the primary keeps its copy of the handle until the worker says it took it, so a
 * connection sent to a worker that refuses it or dies first goes to another worker instead of being
 * lost (node:cluster's round-robin handle does the same).
 */
export class Dispatcher {
  private ready: ConnTarget[] = []
  private next = 0
  private seq = 0
  private readonly inFlight = new Map<number, InFlight>()
  private readonly queued: Array<{ handle: RawHandle; listener: number }> = []
  accepted = 0
  dispatched = 0

  constructor(private readonly log: Logger) {}

  get readyCount(): number {
    return this.ready.length
  }

  dispatch(handle: RawHandle, listener: number): void {
    const n = this.ready.length
    if (n === 0) {
      if (this.queued.length >= MAX_QUEUED) {
        handle.close()
        this.log.warn('no ready worker and the queue is full: connection refused')
        return
      }
      this.queued.push({ handle, listener })
      return
    }
    if (this.next >= n) this.next = 0
    const target = this.ready[this.next++]!
    const seq = ++this.seq
    this.inFlight.set(seq, { handle, listener, target })
    target.send({ smooth: TAG, act: 'conn', seq, listener }, handle, (err) => {
      if (err) this.requeue(seq)
    })
  }

  /** The worker's answer to a hand-off. */
  ack(seq: number, accepted: boolean): void {
    const entry = this.inFlight.get(seq)
    if (!entry) return
    this.inFlight.delete(seq)
    if (accepted) {
      this.dispatched++
      entry.handle.close()
    } else {
      this.dispatch(entry.handle, entry.listener)
    }
  }

  /** Starts giving connections to a worker, and gives it what waited for one. */
  add(target: ConnTarget): void {
    if (!this.ready.includes(target)) this.ready.push(target)
    for (const q of this.queued.splice(0)) this.dispatch(q.handle, q.listener)
  }

  /** Stops giving connections to a worker; `gone` also takes back what it had not acknowledged. */
  remove(target: ConnTarget, gone: boolean): void {
    this.ready = this.ready.filter((t) => t !== target)
    if (!gone) return
    for (const [seq, entry] of this.inFlight) {
      if (entry.target === target) this.requeue(seq)
    }
  }

  /** Closes connections nobody will take (shutdown with no worker left). */
  dropQueued(): number {
    const dropped = this.queued.splice(0)
    for (const q of dropped) q.handle.close()
    return dropped.length
  }

  private requeue(seq: number): void {
    const entry = this.inFlight.get(seq)
    if (!entry) return
    this.inFlight.delete(seq)
    this.dispatch(entry.handle, entry.listener)
  }
}
