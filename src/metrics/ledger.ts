import { AggregatorRegistry } from 'prom-client'
import type { MetricsJson } from './primary-metrics.js'
import { carriedOnly } from './carried.js'

/** Sums registry dumps by metric and label set (prom-client's cluster aggregation). */
export async function sumDumps(dumps: MetricsJson[]): Promise<MetricsJson> {
  const nonEmpty = dumps.filter((d) => d.length > 0)
  if (nonEmpty.length === 0) return []
  if (nonEmpty.length === 1) return nonEmpty[0]!
  return (await AggregatorRegistry.aggregate(nonEmpty as Parameters<typeof AggregatorRegistry.aggregate>[0]).getMetricsAsJSON()) as MetricsJson
}

/**
 * What workers that are gone had counted: their last values, summed. A draining worker sends its
 * final values with `drained`; a worker that crashed leaves the values of the last scrape. A
 * successor adds its predecessor's ledger and live workers at the handover, so the totals go on
 * across restarts.
 */
export class Ledger {
  private dumps: MetricsJson[] = []
  private folding = false

  add(json: unknown): void {
    const kept = carriedOnly(json)
    if (kept.length === 0) return
    this.dumps.push(kept)
    if (this.dumps.length > 8) void this.fold().catch(() => { /* keep the dumps unfolded: still correct */ })
  }

  /**
   * The dumps as they stand at this instant (synchronous: read it in the same tick as the check of
   * which workers are already in it, or a worker leaving in between would count twice or not at all).
   */
  snapshot(): MetricsJson[] {
    return [...this.dumps]
  }

  /** Sums the dumps into one, so the ledger stays short; dumps added meanwhile stay after it. */
  private async fold(): Promise<void> {
    if (this.folding) return
    this.folding = true
    try {
      const n = this.dumps.length
      const sum = await sumDumps(this.dumps.slice(0, n))
      this.dumps.splice(0, n, sum)
    } finally {
      this.folding = false
    }
  }
}
