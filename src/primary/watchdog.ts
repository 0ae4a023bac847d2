import { EventEmitter } from 'node:events'
import type { Logger } from 'pino'
import type { WorkerPool, WorkerSlot } from './workers.js'

/** How often each worker is pinged (at most; a short workerTimeout pings more often). */
const HEARTBEAT_MS = 1_000
/** A worker is shown as not responding after this many heartbeats without an answer. */
const SILENT_AFTER_BEATS = 2.5

/**
 * Hung workers (Puma's `worker_timeout`, Unicorn's `timeout`). Every heartbeat the primary pings each
 * ready or draining worker over IPC; the worker answers from its event loop with its numbers (memory,
 * connections, requests in flight), so a worker stuck in a loop falls silent. One silent for
 * `timeoutMs` is logged with what it last held, killed with SIGKILL and counted; the pool replaces it
 * (or, if it was draining, its drain ends there, counted as forced).
 *
 * The heartbeat runs even when `timeoutMs` is 0 (killing off): it keeps /status's numbers fresh, marks
 * a silent worker as not responding, feeds the recycling limits, and lets a drain end at its deadline
 * for a worker whose event loop is stuck (workers.ts).
 *
 * Emits 'timeout' (slot) for each worker it kills.
 */
export class Watchdog extends EventEmitter {
  readonly intervalMs: number
  private timer: NodeJS.Timeout | undefined
  private lastTick = Date.now()
  /** When each worker was last pinged: one ping at a time, so a stuck worker's pipe does not fill up. */
  private readonly pingedAt = new WeakMap<WorkerSlot, number>()

  constructor(private readonly pool: WorkerPool, private readonly timeoutMs: number, private readonly log: Logger) {
    super()
    this.intervalMs = timeoutMs > 0 ? Math.max(100, Math.min(HEARTBEAT_MS, Math.floor(timeoutMs / 4))) : HEARTBEAT_MS
    pool.silentAfterMs = this.intervalMs * SILENT_AFTER_BEATS
  }

  start(): void {
    this.lastTick = Date.now()
    this.timer = setInterval(() => this.tick(), this.intervalMs)
    this.timer.unref()
  }

  stop(): void {
    clearInterval(this.timer)
  }

  private tick(): void {
    const now = Date.now()
    // The primary itself was held up (a long GC, SIGSTOP, a suspended VM): the silence is ours, not
    // the workers'. Forgive it rather than kill every worker at once.
    const late = now - this.lastTick - this.intervalMs
    this.lastTick = now
    for (const slot of this.pool.live()) {
      if (slot.state !== 'ready' && slot.state !== 'draining') continue
      if (late > this.intervalMs) slot.lastSeen += late
      const silentMs = now - slot.lastSeen
      slot.responding = silentMs <= this.pool.silentAfterMs
      if (this.timeoutMs > 0 && silentMs >= this.timeoutMs) {
        this.kill(slot, silentMs)
      } else if (slot.lastSeen >= (this.pingedAt.get(slot) ?? 0)) {
        this.pingedAt.set(slot, now)
        slot.send({ act: 'ping' })
      }
    }
  }

  private kill(slot: WorkerSlot, silentMs: number): void {
    if (slot.killedFor) return
    slot.killedFor = 'timeout'
    if (slot.state === 'draining') {
      this.pool.killForced(slot, 'worker not responding while draining: killed')
    } else {
      // What it held as of its last answer: the request that got it stuck came after, if any did.
      this.log.error({ worker: slot.id, workerPid: slot.pid, silentForMs: silentMs, timeoutMs: this.timeoutMs,
        inflight: slot.stats?.inflight ?? 0, connections: slot.stats?.connections ?? 0 }, 'worker not responding (event loop blocked): killed')
      slot.kill('SIGKILL')
    }
    this.emit('timeout', slot)
  }
}

/** A worker as /status shows it: a silent one is not `ready`, and its numbers say how old they are. */
export function workerView(w: WorkerSlot): Record<string, unknown> {
  const silent = !w.responding && (w.state === 'ready' || w.state === 'draining')
  return {
    id: w.id, pid: w.pid, state: silent ? 'unresponsive' : w.state, startedAt: w.startedAt, readyAt: w.readyAt,
    inflight: w.stats?.inflight, connections: w.stats?.connections, rss: w.stats?.rss, heapUsed: w.stats?.heapUsed,
    requests: w.requests, lastSeenMs: w.state === 'starting' ? undefined : Date.now() - w.lastSeen,
  }
}
