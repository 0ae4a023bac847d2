import type { MetricsFrame } from '../protocol.js'
import { carriedOnly } from './carried.js'
import type { MetricsJson } from './primary-metrics.js'

/**
 * The other generation during a restart, as far as metrics go. While both generations serve, a
 * scrape may reach either; each adds the other's worker counters to its own, so both answer the
 * same totals and Prometheus never sees a counter go down (which it would read as a reset).
 */
export class MetricsPeer {
  private nextId = 1
  private readonly waiting = new Map<number, (m: MetricsJson) => void>()
  /** The peer's counters as of its latest answer: used when it does not answer in time. */
  last: MetricsJson = []

  constructor(private readonly send: (f: MetricsFrame) => void, private readonly own: () => Promise<MetricsJson>) {}

  /** Takes a metrics frame from the channel; false for any other frame. */
  onFrame(f: { t: string } & Record<string, unknown>): boolean {
    if (f.t === 'metricsAsk') {
      const id = Number(f.id)
      void this.own().then((metrics) => this.send({ t: 'metricsOwn', id, metrics }), () => {})
      return true
    }
    if (f.t === 'metricsOwn') {
      const { id, metrics } = f as unknown as Extract<MetricsFrame, { t: 'metricsOwn' }>
      this.last = carriedOnly(metrics)
      this.waiting.get(id)?.(this.last)
      return true
    }
    return false
  }

  /** The peer's counters now, or its latest answer if it does not answer within `timeoutMs`. */
  async ask(timeoutMs: number): Promise<MetricsJson> {
    const id = this.nextId++
    const answer = new Promise<MetricsJson>((resolve) => {
      const timer = setTimeout(() => done(this.last), timeoutMs)
      const done = (m: MetricsJson): void => {
        clearTimeout(timer)
        this.waiting.delete(id)
        resolve(m)
      }
      this.waiting.set(id, done)
    })
    this.send({ t: 'metricsAsk', id })
    return answer
  }
}
