import type { RegistrableMetric } from './request-counts.js'

/**
 * A worker's own counters and scrape-time gauges, as plain objects answering prom-client's JSON shape
 * (what `Registry.getMetricsAsJSON()` gives per metric). The primary aggregates that JSON with
 * prom-client; a worker never needs prom-client itself, which saves its load time and a few MiB of
 * every worker's memory (prom-client comes in only with `nodeMetrics`, see worker-metrics.ts).
 *
 * Both classes are also registrable in a prom-client Registry (`registerMetric` only calls what
 * RegistrableMetric has), which the unit tests use to compare them with prom-client's own.
 */

type Labels = Record<string, string | number>
type Value = { labels: Labels; value: number }

/** Where a labelled increment lands: one series, found once. */
export interface BoundCounter { inc(n?: number): void }

/** A counter by label set. `labels()` binds a series, so an increment on a hot path is one addition. */
export class SeriesCounter implements RegistrableMetric {
  readonly type = 'counter'
  readonly aggregator = 'sum'
  private readonly series = new Map<string, Value>()

  constructor(readonly name: string, readonly help: string, readonly labelNames: string[] = []) {
    // As prom-client: a counter without labels is there at 0 from the start.
    if (labelNames.length === 0) this.bound({})
  }

  inc(labels: Labels = {}, n = 1): void {
    this.bound(labels).value += n
  }

  labels(labels: Labels): BoundCounter {
    const s = this.bound(labels)
    return { inc: (n = 1) => { s.value += n } }
  }

  private bound(labels: Labels): Value {
    const key = this.labelNames.map((n) => String(labels[n] ?? '')).join('\u0000')
    let s = this.series.get(key)
    if (!s) this.series.set(key, (s = { labels: { ...labels }, value: 0 }))
    return s
  }

  async get(): Promise<{ name: string; help: string; type: 'counter'; aggregator: 'sum'; values: Value[] }> {
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: [...this.series.values()].map((s) => ({ labels: { ...s.labels }, value: s.value })) }
  }

  reset(): void { /* never reset: the counts outlive the worker (ledger.ts) */ }
}

/** A gauge of this worker, read only when scraped; labelled by worker (gauges are not summed over workers). */
export class ScrapeGauge implements RegistrableMetric {
  readonly type = 'gauge'
  readonly aggregator = 'sum'
  readonly labelNames = ['worker']

  /** `read` answers undefined when it has nothing to report (under-pressure not sampling, say). */
  constructor(readonly name: string, readonly help: string, private readonly worker: string, private readonly read: () => number | undefined) {}

  async get(): Promise<{ name: string; help: string; type: 'gauge'; aggregator: 'sum'; values: Value[] }> {
    const value = this.read()
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: value === undefined ? [] : [{ labels: { worker: this.worker }, value }] }
  }

  reset(): void {}
}

/** A counter of this process without labels, read only when scraped (CPU time, say). */
export class ScrapeCounter implements RegistrableMetric {
  readonly type = 'counter'
  readonly aggregator = 'sum'
  readonly labelNames: string[] = []

  constructor(readonly name: string, readonly help: string, private readonly read: () => number) {}

  async get(): Promise<{ name: string; help: string; type: 'counter'; aggregator: 'sum'; values: Value[] }> {
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: [{ labels: {}, value: this.read() }] }
  }

  reset(): void {}
}
