import type { MetricsJson } from './primary-metrics.js'

/**
 * Whether a worker metric only ever grows: Smooth's own counters and histograms. Their sum over the
 * workers must not drop when a worker leaves, or Prometheus reads the drop as a counter reset and
 * `rate()` shows a spike at every rollout. (prom-client's default process metrics are per worker,
 * labelled, and simply end with their worker.)
 */
export function isCarried(m: { name: string; type: unknown }): boolean {
  const type = String(m.type)
  return m.name.startsWith('smooth_') && (type === 'counter' || type === 'histogram')
}

/** Keeps only the carried metrics of a registry dump. */
export function carriedOnly(json: unknown): MetricsJson {
  if (!Array.isArray(json)) return []
  // Shape-checked too: a dump comes from another process (another version, even), and one bad entry
  // must not make the aggregation throw.
  return (json as MetricsJson).filter((m) => m && typeof m.name === 'string' && isCarried(m) && Array.isArray(m.values)
    && m.values.every((v) => v && typeof v.value === 'number' && (v.labels === undefined || typeof v.labels === 'object')))
}
