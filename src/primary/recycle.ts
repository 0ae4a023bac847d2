import { EventEmitter } from 'node:events'
import type { Logger } from 'pino'
import type { WorkerPool, WorkerSlot } from './workers.js'

export type RecycleReason = 'memory' | 'pressure' | 'requests' | 'age'

export interface RecycleLimits {
  /** maxWorkerMemory: RSS in bytes (what PM2's max_memory_restart reads). */
  rssBytes: number
  /**
   * under-pressure's own memory limits (the lowest over the servers): a worker over them sheds every
   * request with 503, and a leak never goes back down, so it is recycled like one over maxWorkerMemory.
   */
  pressureRssBytes: number
  pressureHeapBytes: number
  requests: number
  ageMs: number
}

export interface RecyclerOptions {
  limits: RecycleLimits
  readyTimeoutMs: number
  gracefulTimeoutMs: number
  settleMs: number
  log: Logger
  /** False while a rollout or a shutdown is under way: they replace workers themselves. */
  canRun(): boolean
}

/** How often the workers' latest readings (their heartbeats, see watchdog.ts) are checked. */
const CHECK_MS = 1_000
/** Over a memory limit on every reading for this long: a spike that goes back down is left alone. */
const STAY_OVER_MS = 3_000
/** A worker recycled for memory this soon after it was ready counts towards a leak in every new worker. */
const YOUNG_MS = 60_000
const FIRST_BACKOFF_MS = 2_000
const MAX_BACKOFF_MS = 300_000
/** From this many young workers in a row over the limit, it is reported as a leak in every new worker. */
const REPORT_AT = 2

const isMemory = (r: RecycleReason): boolean => r === 'memory' || r === 'pressure'

/**
 * Recycles workers over their limits the way a reload replaces them: a replacement is forked and must
 * accept connections before the old worker stops accepting and drains (no request lost), one worker at
 * a time. Memory recycling backs off exponentially when the workers it starts go over the limit again
 * soon after they are ready (a leak that fills every new worker, or a limit below the app's footprint):
 * that is reported instead of looped.
 *
 * Emits 'recycled' (reason) once a replacement accepts and the old worker was told to drain.
 */
export class Recycler extends EventEmitter {
  private timer: NodeJS.Timeout | undefined
  private busy = false
  private readonly overSince = new Map<WorkerSlot, number>()
  /** Young workers in a row recycled for memory, and when the next memory recycle may start. */
  private streak = 0
  private notBefore = 0
  /** Replacements in a row that could not start (a broken release on disk, say), and the wait they impose. */
  private failures = 0
  private failedUntil = 0

  constructor(private readonly pool: WorkerPool, private readonly opts: RecyclerOptions) {
    super()
  }

  static needed(l: RecycleLimits): boolean {
    return l.rssBytes > 0 || l.pressureRssBytes > 0 || l.pressureHeapBytes > 0 || l.requests > 0 || l.ageMs > 0
  }

  start(): void {
    this.timer = setInterval(() => this.check(), CHECK_MS)
    this.timer.unref()
  }

  stop(): void {
    clearInterval(this.timer)
  }

  /** Why this worker should be recycled now, if it should. */
  private reasonFor(slot: WorkerSlot, now: number): { reason: RecycleReason; detail: Record<string, number> } | undefined {
    const { limits } = this.opts
    const rss = slot.stats?.rss ?? 0
    const heap = slot.stats?.heapUsed ?? 0
    const overMax = limits.rssBytes > 0 && rss > limits.rssBytes
    const overPressure = (limits.pressureRssBytes > 0 && rss > limits.pressureRssBytes) || (limits.pressureHeapBytes > 0 && heap > limits.pressureHeapBytes)
    if (overMax || overPressure) {
      const since = this.overSince.get(slot) ?? now
      this.overSince.set(slot, since)
      if (now - since >= STAY_OVER_MS) {
        return { reason: overMax ? 'memory' : 'pressure', detail: { rss, heapUsed: heap, limit: overMax ? limits.rssBytes : (limits.pressureRssBytes || limits.pressureHeapBytes), overForMs: now - since } }
      }
    } else {
      this.overSince.delete(slot)
    }
    if (limits.requests > 0 && slot.requests >= limits.requests) return { reason: 'requests', detail: { requests: slot.requests, limit: limits.requests } }
    if (limits.ageMs > 0 && slot.readyAt && now - slot.readyAt >= limits.ageMs) return { reason: 'age', detail: { ageMs: now - slot.readyAt, limit: limits.ageMs } }
    return undefined
  }

  private check(): void {
    const now = Date.now()
    for (const s of this.overSince.keys()) if (s.state !== 'ready') this.overSince.delete(s)
    if (this.busy || !this.opts.canRun() || now < this.failedUntil) return
    // Only responding workers: a silent one's readings are old, and the watchdog deals with it.
    const ready = this.pool.live().filter((s) => s.state === 'ready' && s.responding)
    let pick: { slot: WorkerSlot; reason: RecycleReason; detail: Record<string, number> } | undefined
    for (const slot of ready) {
      // Every worker is looked at (how long each has been over its limit is tracked here).
      const why = this.reasonFor(slot, now)
      if (why && !pick && (!isMemory(why.reason) || now >= this.notBefore)) pick = { slot, ...why }
    }
    if (pick) void this.recycle(pick.slot, pick.reason, pick.detail)
  }

  private async recycle(old: WorkerSlot, reason: RecycleReason, detail: Record<string, number>): Promise<void> {
    this.busy = true
    this.overSince.delete(old)
    try {
      const backoffMs = isMemory(reason) ? this.backOff(old) : undefined
      this.opts.log.warn({ worker: old.id, workerPid: old.pid, reason, ...detail, backoffMs }, `worker recycled (${reason}): a replacement starts, then it drains`)
      const fresh = this.pool.fork(this.opts.settleMs)
      try {
        await this.pool.whenAccepting(fresh, this.opts.readyTimeoutMs)
      } catch (err) {
        // A rollout or a shutdown that began meanwhile replaces or stops the workers itself.
        if (!this.opts.canRun()) return
        // The old worker keeps serving; the next attempt waits, longer each time in a row.
        this.failures++
        const waitMs = Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** (this.failures - 1))
        this.failedUntil = Date.now() + waitMs
        this.opts.log.error({ workerPid: old.pid, reason, err: (err as Error).message, inARow: this.failures, nextAttemptInMs: waitMs },
          'worker recycle stopped: its replacement did not start; the old worker serves on')
        return
      }
      this.failures = 0
      this.emit('recycled', reason)
      if (old.state === 'ready') await this.pool.drain(old, this.opts.gracefulTimeoutMs)
    } finally {
      this.busy = false
    }
  }

  /** A worker over its memory limit soon after it was ready: the leak is in every new one. Slow down. */
  private backOff(old: WorkerSlot): number {
    const young = old.readyAt !== undefined && Date.now() - old.readyAt < YOUNG_MS
    this.streak = young ? this.streak + 1 : 0
    const waitMs = this.streak === 0 ? 0 : Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** (this.streak - 1))
    this.notBefore = Date.now() + waitMs
    if (this.streak >= REPORT_AT) {
      this.opts.log.error({ inARow: this.streak, nextAttemptInMs: waitMs, limit: this.opts.limits.rssBytes || this.opts.limits.pressureRssBytes || this.opts.limits.pressureHeapBytes },
        'worker memory limit reached by every new worker (a leak at start-up, or a limit below the app\'s footprint): backing off')
    }
    return waitMs
  }
}
