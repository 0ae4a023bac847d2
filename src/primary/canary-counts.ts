import { DURATION_BUCKETS } from '../metrics/request-counts.js'
import { emptyCounts, type Counts } from './canary.js'

const REQUESTS = 'smooth_http_requests_total'
const DURATION_BUCKET = 'smooth_http_request_duration_seconds_bucket'
const DURATION_SUM = 'smooth_http_request_duration_seconds_sum'

interface Value { labels?: Record<string, string | number>; value: number; metricName?: string }
interface Metric { name: string; values?: Value[] }

/**
 * A worker's (or a generation's summed) registry dump as canary counts: requests and 5xx answers over
 * every server and route, and the duration histogram summed over them. Read from what a scrape
 * collects anyway, so a canary adds nothing to the request path.
 */
export function countsOf(dump: unknown): Counts {
  const c = emptyCounts()
  if (!Array.isArray(dump)) return c
  const cumulative = new Array<number>(DURATION_BUCKETS.length + 1).fill(0)
  for (const m of dump as Metric[]) {
    if (!m || !Array.isArray(m.values)) continue
    if (m.name === REQUESTS) {
      for (const v of m.values) {
        c.requests += v.value
        if (Number(v.labels?.status_code) >= 500) c.errors += v.value
      }
    } else if (m.name === 'smooth_http_request_duration_seconds') {
      for (const v of m.values) {
        if (v.metricName === DURATION_SUM) c.seconds += v.value
        if (v.metricName !== DURATION_BUCKET) continue
        const le = v.labels?.le
        const i = le === '+Inf' ? DURATION_BUCKETS.length : DURATION_BUCKETS.indexOf(Number(le) as typeof DURATION_BUCKETS[number])
        if (i >= 0) cumulative[i]! += v.value
      }
    }
  }
  cumulative.forEach((n, i) => { c.buckets[i] = n - (i > 0 ? cumulative[i - 1]! : 0) })
  return c
}
