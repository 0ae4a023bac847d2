import { closeSync, openSync } from 'node:fs'
import { constants } from 'node:os'
import { getHeapStatistics } from 'node:v8'
import type { Logger } from 'pino'

/** How often the condition is logged (with the count since the last line), and re-checked. */
const LOG_EVERY_MS = 10_000
const PROBE_EVERY_MS = 500
/** At least this long without new connections once exhausted: no pause/resume flapping (and log lines) every sample. */
const MIN_PAUSE_MS = 2_000
const EMFILE = constants.errno.EMFILE
const ENFILE = constants.errno.ENFILE

export function isFdExhaustion(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code
  return code === 'EMFILE' || code === 'ENFILE'
}

/** libuv reports an accept error as a negative errno: 'EMFILE', 'ENFILE' or undefined for others. */
export function fdExhaustionCode(status: number): 'EMFILE' | 'ENFILE' | undefined {
  return status === -EMFILE ? 'EMFILE' : status === -ENFILE ? 'ENFILE' : undefined
}

/**
 * A worker out of file descriptors (EMFILE: its own limit; ENFILE: the system's) must not die: it
 * holds connections that are being answered. What used to kill it was @fastify/under-pressure's
 * sampler: it calls process.memoryUsage() from a timer without a catch, and reading the resident set
 * size opens /proc/self/stat. So:
 *  - process.memoryUsage is wrapped once per worker: on EMFILE/ENFILE it returns the last good
 *    reading (heap figures fresh from V8, which needs no descriptor) instead of throwing; any other
 *    error is still thrown;
 *  - the worker then reports itself under pressure, so the primary stops giving it connections while
 *    another worker can take them (libuv would otherwise accept and drop them), and reports again
 *    once a descriptor can be opened (probed every PROBE_EVERY_MS, after MIN_PAUSE_MS);
 *  - the condition is logged at most once per LOG_EVERY_MS, with a count, and counted in
 *    `smooth_worker_fd_exhausted_total`.
 */
export class FdExhaustion {
  private exhausted = false
  private since = 0
  private lastLog = 0
  private probe: NodeJS.Timeout | undefined
  private exhaustedAt = 0

  constructor(
    private readonly log: Logger,
    private readonly count: { inc(labels: { where: string }): void } | undefined,
    private readonly report: (exhausted: boolean) => void,
  ) {}

  /** Records one failure for lack of descriptors at `where` (accept, memory sample). */
  hit(where: string, code: string): void {
    this.count?.inc({ where })
    this.since++
    const now = Date.now()
    if (now - this.lastLog >= LOG_EVERY_MS) {
      this.log.warn({ code, where, failures: this.since, intervalMs: LOG_EVERY_MS }, 'out of file descriptors: no new connections here until some close')
      this.lastLog = now
      this.since = 0
    }
    if (this.exhausted) return
    this.exhausted = true
    this.exhaustedAt = now
    this.report(true)
    this.probe = setInterval(() => this.check(), PROBE_EVERY_MS)
    this.probe.unref()
  }

  private check(): void {
    if (Date.now() - this.exhaustedAt < MIN_PAUSE_MS) return
    try {
      closeSync(openSync('/dev/null', 'r'))
    } catch {
      return
    }
    clearInterval(this.probe)
    this.exhausted = false
    this.log.info('file descriptors available again')
    this.report(false)
  }

  /** Wraps process.memoryUsage (see the class comment). */
  guardMemoryUsage(): void {
    const original = process.memoryUsage
    let last: NodeJS.MemoryUsage | undefined
    const guarded = (() => {
      try {
        last = original.call(process)
        return last
      } catch (err) {
        if (!isFdExhaustion(err)) throw err
        this.hit('memory_sample', (err as NodeJS.ErrnoException).code!)
        return fallback(last)
      }
    }) as typeof process.memoryUsage
    guarded.rss = () => {
      try {
        return original.rss()
      } catch (err) {
        if (!isFdExhaustion(err)) throw err
        this.hit('memory_sample', (err as NodeJS.ErrnoException).code!)
        return last?.rss ?? 0
      }
    }
    process.memoryUsage = guarded
  }
}

function fallback(last: NodeJS.MemoryUsage | undefined): NodeJS.MemoryUsage {
  // V8 needs no file descriptor; the resident set size stays as last read.
  const h = getHeapStatistics()
  return { rss: last?.rss ?? 0, heapTotal: h.total_heap_size, heapUsed: h.used_heap_size, external: h.external_memory, arrayBuffers: last?.arrayBuffers ?? 0 }
}

/** Several reasons to be "under pressure" (limits, descriptors): the primary hears the OR of them. */
export class PressureReport {
  private readonly under = new Set<string>()
  private last = false
  constructor(private readonly send: (under: boolean) => void) {}

  set(reason: string, under: boolean): void {
    if (under) this.under.add(reason)
    else this.under.delete(reason)
    const now = this.under.size > 0
    if (now === this.last) return
    this.last = now
    this.send(now)
  }
}
