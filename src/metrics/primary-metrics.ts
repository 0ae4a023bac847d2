import { Registry, Counter, Gauge, Histogram, collectDefaultMetrics, AggregatorRegistry } from 'prom-client'

export type MetricsJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>

/** The counters that continue across a restart (the successor starts from the predecessor's values). */
export interface CarriedCounters {
  rollouts: Record<string, number>
  crashes: number
  drainsForced: number
  channelRefused: number
  timeouts?: number
  recycles?: Record<string, number>
  /** The last rollout of each kind: when it finished, whether it succeeded, how long it took. */
  last?: Record<string, { at: number; success: number; seconds: number }>
  /** Canaries by `kind/result` (started, promoted, rolled_back). */
  canaries?: Record<string, number>
}

/**
 * The primary's own metrics. Counters are seeded from the previous generation's values, handed over
 * on the status channel, so `increase()` over a restart is exact rather than a reset.
 */
export class PrimaryMetrics {
  readonly registry = new Registry()
  readonly generation: Gauge
  readonly workers: Gauge<'state'>
  readonly rollouts: Counter<'kind' | 'result' | 'reason'>
  readonly canaries: Counter<'kind' | 'result'>
  readonly rolloutDuration: Histogram<'kind'>
  readonly lastRolloutTime: Gauge<'kind'>
  readonly lastRolloutSuccess: Gauge<'kind'>
  readonly lastRolloutDuration: Gauge<'kind'>
  readonly drainDuration: Histogram
  readonly drainsForced: Counter
  readonly crashes: Counter
  readonly channelRefused: Counter
  readonly timeouts: Counter
  readonly recycles: Counter<'reason'>
  private readonly carried: Required<CarriedCounters> = { rollouts: {}, crashes: 0, drainsForced: 0, channelRefused: 0, timeouts: 0, recycles: {}, last: {}, canaries: {} }

  constructor(workerStates: () => Record<string, number>) {
    collectDefaultMetrics({ register: this.registry, prefix: 'smooth_primary_' })
    const registers = [this.registry]
    this.generation = new Gauge({ name: 'smooth_generation', help: 'generation of the live primary (1, then +1 per restart)', registers })
    this.workers = new Gauge({
      name: 'smooth_workers', help: 'worker processes by state', labelNames: ['state'], registers,
      collect() { for (const [state, n] of Object.entries(workerStates())) this.set({ state }, n) },
    })
    this.rollouts = new Counter({ name: 'smooth_rollouts_total', help: 'rollouts by kind and result (rolled_back: a canary judged bad, with its reason)', labelNames: ['kind', 'result', 'reason'], registers })
    this.canaries = new Counter({ name: 'smooth_canaries_total', help: 'canary rollouts by kind and result: started, promoted, rolled_back (Grafana annotates them)', labelNames: ['kind', 'result'], registers })
    this.rolloutDuration = new Histogram({ name: 'smooth_rollout_duration_seconds', help: 'rollout duration', labelNames: ['kind'], buckets: [0.5, 1, 2, 5, 10, 30, 60, 120, 300], registers })
    this.lastRolloutTime = new Gauge({ name: 'smooth_last_rollout_timestamp_seconds', help: 'when the last rollout of a kind finished', labelNames: ['kind'], registers })
    this.lastRolloutSuccess = new Gauge({ name: 'smooth_last_rollout_success', help: '1 if the last rollout of a kind succeeded, 0 if it failed', labelNames: ['kind'], registers })
    this.lastRolloutDuration = new Gauge({ name: 'smooth_last_rollout_duration_seconds', help: 'how long the last rollout of a kind took', labelNames: ['kind'], registers })
    this.drainDuration = new Histogram({ name: 'smooth_drain_duration_seconds', help: 'how long a worker took to drain', buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60], registers })
    this.drainsForced = new Counter({ name: 'smooth_drains_forced_total', help: 'drains that hit the graceful timeout (connections destroyed)', registers })
    this.crashes = new Counter({ name: 'smooth_worker_crashes_total', help: 'workers that died without being asked to', registers })
    this.channelRefused = new Counter({ name: 'smooth_status_channel_refused_total', help: 'status-channel connections refused (bad token, late, second)', registers })
    this.timeouts = new Counter({ name: 'smooth_worker_timeouts_total', help: 'workers killed because their event loop stopped answering (workerTimeout)', registers })
    this.recycles = new Counter({ name: 'smooth_worker_recycles_total', help: 'workers replaced for a limit: memory (maxWorkerMemory), pressure (under-pressure memory limit), requests, age', labelNames: ['reason'], registers })
    for (const kind of ['reload', 'restart']) for (const result of ['success', 'failure']) this.rollouts.inc({ kind, result }, 0)
    for (const kind of ['reload', 'restart']) for (const result of ['started', 'promoted', 'rolled_back']) this.canaries.inc({ kind, result }, 0)
    for (const reason of ['memory', 'pressure', 'requests', 'age']) this.recycles.inc({ reason }, 0)
  }

  /** A rollout's end; a canary's rollback is `rolled_back` with its reason (canary_errors, …). */
  rollout(kind: string, result: 'success' | 'failure' | 'rolled_back', seconds: number, reason?: string): void {
    this.rollouts.inc(reason ? { kind, result, reason } : { kind, result })
    const key = reason ? `${kind}/${result}/${reason}` : `${kind}/${result}`
    this.carried.rollouts[key] = (this.carried.rollouts[key] ?? 0) + 1
    this.rolloutDuration.observe({ kind }, seconds)
    this.setLast(kind, { at: Date.now() / 1000, success: result === 'success' ? 1 : 0, seconds })
  }

  canary(kind: string, result: 'started' | 'promoted' | 'rolled_back'): void {
    this.canaries.inc({ kind, result })
    this.carried.canaries[`${kind}/${result}`] = (this.carried.canaries[`${kind}/${result}`] ?? 0) + 1
  }

  private setLast(kind: string, last: { at: number; success: number; seconds: number }): void {
    this.carried.last[kind] = last
    this.lastRolloutTime.set({ kind }, last.at)
    this.lastRolloutSuccess.set({ kind }, last.success)
    this.lastRolloutDuration.set({ kind }, last.seconds)
  }

  crash(): void { this.crashes.inc(); this.carried.crashes++ }
  forced(n: number): void { if (n > 0) { this.drainsForced.inc(n); this.carried.drainsForced += n } }
  refused(): void { this.channelRefused.inc(); this.carried.channelRefused++ }
  timeout(): void { this.timeouts.inc(); this.carried.timeouts++ }
  recycled(reason: string): void { this.recycles.inc({ reason }); this.carried.recycles[reason] = (this.carried.recycles[reason] ?? 0) + 1 }

  /** What to hand the successor. */
  counters(): CarriedCounters {
    return structuredClone(this.carried)
  }

  /** Starts from the predecessor's values. */
  seed(c: CarriedCounters): void {
    for (const [key, n] of Object.entries(c.rollouts)) {
      const [kind, result, reason] = key.split('/') as [string, string, string | undefined]
      this.rollouts.inc(reason ? { kind, result, reason } : { kind, result }, n)
      this.carried.rollouts[key] = (this.carried.rollouts[key] ?? 0) + n
    }
    if (c.crashes) { this.crashes.inc(c.crashes); this.carried.crashes += c.crashes }
    if (c.drainsForced) { this.drainsForced.inc(c.drainsForced); this.carried.drainsForced += c.drainsForced }
    if (c.channelRefused) { this.channelRefused.inc(c.channelRefused); this.carried.channelRefused += c.channelRefused }
    if (c.timeouts) { this.timeouts.inc(c.timeouts); this.carried.timeouts += c.timeouts }
    for (const [reason, n] of Object.entries(c.recycles ?? {})) { this.recycles.inc({ reason }, n); this.carried.recycles[reason] = (this.carried.recycles[reason] ?? 0) + n }
    for (const [key, n] of Object.entries(c.canaries ?? {})) {
      const [kind, result] = key.split('/') as [string, string]
      this.canaries.inc({ kind, result }, n)
      this.carried.canaries[key] = (this.carried.canaries[key] ?? 0) + n
    }
    for (const [kind, last] of Object.entries(c.last ?? {})) if (!this.carried.last[kind]) this.setLast(kind, last)
  }
}

/** Sums the registries of the primary and the workers that answered into one exposition. */
export async function aggregate(primary: Registry, workers: MetricsJson[]): Promise<string> {
  const all = [await primary.getMetricsAsJSON(), ...workers]
  return AggregatorRegistry.aggregate(all as Parameters<typeof AggregatorRegistry.aggregate>[0]).metrics()
}
