import type { FastifyInstance } from 'fastify'
import { RequestCounts, type MetricJson, type RegistrableMetric } from './request-counts.js'
import type { MetricsJson } from './primary-metrics.js'
import { SeriesCounter, ScrapeCounter, ScrapeGauge } from './worker-series.js'

/** What under-pressure last sampled (undefined while it does not sample). */
type PressureReading = { eventLoopDelay: number; heapUsed: number; rssBytes: number; eventLoopUtilized: number } | undefined

/**
 * A worker's metrics: HTTP requests by server, method, route pattern and status, connections
 * accepted, client errors, in-flight requests, memory, CPU and under-pressure readings. The primary
 * collects every worker's metrics as JSON (prom-client's `getMetricsAsJSON` shape) and aggregates
 * them (summing by label set), so one scrape answers for the whole tree. Per-worker readings carry a
 * `worker` label; Smooth's counters and histograms are summed over workers and outlive them
 * (metrics/ledger.ts).
 *
 * The request path pays for a few integer increments (metrics/request-counts.ts); everything else is
 * computed only when scraped. prom-client is not loaded in a worker unless `nodeMetrics` asks for its
 * default Node metrics (event-loop lag, GC, heap spaces… per worker): those keep a monitor and a GC
 * observer running in every worker and were most of a scrape's bytes, so they are off by default.
 */
export class WorkerMetrics {
  private readonly parts: RegistrableMetric[] = []
  private readonly requests = new RequestCounts('smooth_http_requests_total', 'smooth_http_request_duration_seconds')
  readonly accepted = this.counter('smooth_connections_accepted_total', 'connections accepted by workers', ['server'])
  readonly shed = this.counter('smooth_requests_shed_total', 'requests answered 503 by under-pressure', ['server'])
  private readonly clientErrorsTotal = this.counter('smooth_client_errors_total', 'requests answered 404, other 4xx from the error handler, or malformed (HTTP parser); logged at debug only', ['server', 'kind'])
  /** Accept or sampler failures for lack of file descriptors (EMFILE/ENFILE); see worker/fd-exhaustion.ts. */
  readonly fdExhausted = this.counter('smooth_worker_fd_exhausted_total', 'accepts and memory samples that failed for lack of file descriptors (EMFILE/ENFILE)', ['where'])
  readonly h2Refused = this.counter('smooth_http2_streams_refused_total', 'HTTP/2 streams opened after their session\'s final GOAWAY in a drain: refused (REFUSED_STREAM, safe to retry)', ['server'])
  /** Connection hand-off in a drain (worker/handoff.ts): connections passed on, and those closed instead. */
  readonly handedOver = this.counter('smooth_connections_handed_over_total', 'idle keep-alive connections a draining worker handed to a ready worker instead of closing them')
  readonly closedOnDrain = this.counter('smooth_connections_closed_on_drain_total', 'connections a draining worker closed: idle (after the grace), connection_close (last response said so), deadline (forced), handoff_timeout (no receiver answered in time)', ['reason'])
  /** prom-client's default metrics of this process (`nodeMetrics`), loaded on demand. */
  private readonly nodeMetrics: Promise<{ getMetricsAsJSON(): Promise<unknown[]> }> | undefined

  constructor(worker: string, inflight: () => number, pressure: () => PressureReading, options: { nodeMetrics?: boolean } = {}) {
    this.parts.push(...this.requests.metrics())
    this.fdExhausted.inc({ where: 'accept' }, 0)
    for (const reason of ['idle', 'connection_close', 'deadline', 'handoff_timeout']) this.closedOnDrain.inc({ reason }, 0)
    // Summed over workers and carried like the request counters: its rate() is the CPU all workers
    // use, across rollouts. process.cpuUsage() is one system call, made only when scraped.
    this.parts.push(new ScrapeCounter('smooth_worker_cpu_seconds_total', 'CPU time (user + system) spent by worker processes', () => {
      const u = process.cpuUsage()
      return (u.user + u.system) / 1e6
    }))
    const gauge = (name: string, help: string, read: () => number | undefined): void => { this.parts.push(new ScrapeGauge(name, help, worker, read)) }
    gauge('smooth_http_requests_in_flight', 'requests being answered', inflight)
    gauge('smooth_worker_event_loop_delay_seconds', 'event loop delay seen by under-pressure', () => { const x = pressure(); return x && x.eventLoopDelay / 1000 })
    // Memory is read at scrape time, whatever the settings (under-pressure samples only when it has limits).
    gauge('smooth_worker_heap_used_bytes', 'V8 heap used', () => process.memoryUsage().heapUsed)
    gauge('smooth_worker_rss_bytes', 'resident set size (what maxWorkerMemory compares)', () => process.memoryUsage.rss())
    gauge('smooth_worker_event_loop_utilization_ratio', 'event loop utilisation, as under-pressure reads it', () => pressure()?.eventLoopUtilized)
    if (options.nodeMetrics) {
      // Per process, so labelled by worker: summed over workers they would drop whenever one leaves.
      this.nodeMetrics = import('prom-client').then(({ Registry, collectDefaultMetrics }) => {
        const registry = new Registry()
        collectDefaultMetrics({ register: registry, labels: { worker } })
        return registry
      })
    }
  }

  /** Everything this worker reports, in prom-client's JSON shape (what the primary aggregates). */
  async json(): Promise<MetricsJson> {
    const own: MetricJson[] = await Promise.all(this.parts.map((m) => m.get()))
    const node = this.nodeMetrics ? await (await this.nodeMetrics).getMetricsAsJSON() : []
    return [...node, ...own] as unknown as MetricsJson
  }

  clientErrors(server: string): { inc(kind: 'not_found' | 'bad_request' | 'malformed'): void } {
    const byKind = {
      not_found: this.clientErrorsTotal.labels({ server, kind: 'not_found' }),
      bad_request: this.clientErrorsTotal.labels({ server, kind: 'bad_request' }),
      malformed: this.clientErrorsTotal.labels({ server, kind: 'malformed' }),
    }
    return { inc: (kind) => byKind[kind].inc() }
  }

  /** Counts every answered request of `app` (onResponse: after the response is sent). */
  instrument(app: FastifyInstance, server: string): void {
    // Present from the first scrape, at 0: a rate() over them works before the first event.
    this.accepted.inc({ server }, 0)
    this.shed.inc({ server }, 0)
    this.h2Refused.inc({ server }, 0)
    // A callback hook, not an async one: no promise per request on the hot path.
    // The duration is Fastify's own (its start time and the end time it takes when the response is
    // finished): no timestamp of ours on the request path.
    const requests = this.requests
    app.addHook('onResponse', (req, reply, done) => {
      requests.count(server, req.method, req.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000)
      done()
    })
  }

  private counter(name: string, help: string, labelNames: string[] = []): SeriesCounter {
    const c = new SeriesCounter(name, help, labelNames)
    this.parts.push(c)
    return c
  }
}
