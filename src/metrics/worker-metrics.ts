import { Registry, Counter, Histogram, Gauge, collectDefaultMetrics, type LabelValues } from 'prom-client'
import type { FastifyInstance } from 'fastify'

/**
 * A worker's metrics: prom-client's default Node metrics, HTTP requests by server, method, route
 * pattern and status, connections accepted, in-flight requests and under-pressure readings. The
 * primary collects every worker's registry as JSON and aggregates (summing by label set), so one
 * scrape answers for the whole tree. Per-worker readings (prom-client's defaults, in-flight requests,
 * pressure) carry a `worker` label; Smooth's counters and histograms are summed over workers and
 * outlive them (metrics/ledger.ts).
 *
 * The request path pays for two observations on a cached label child; in-flight requests and
 * pressure readings are read only when scraped.
 */
export class WorkerMetrics {
  readonly registry = new Registry()
  private readonly requests: Counter<'server' | 'method' | 'route' | 'status_code'>
  private readonly duration: Histogram<'server' | 'method' | 'route' | 'status_code'>
  readonly accepted: Counter<'server'>
  readonly shed: Counter<'server'>
  private readonly clientErrorsTotal: Counter<'server' | 'kind'>
  /** Accept or sampler failures for lack of file descriptors (EMFILE/ENFILE); see worker/fd-exhaustion.ts. */
  readonly fdExhausted: Counter<'where'>
  readonly h2Refused: Counter<'server'>
  private readonly children = new Map<string, { c: Counter.Internal; h: Histogram.Internal<string> }>()

  constructor(private readonly worker: string, inflight: () => number, pressure: () => { eventLoopDelay: number; heapUsed: number; rssBytes: number; eventLoopUtilized: number } | undefined) {
    // Per process, so labelled by worker: summed over workers they would drop whenever one leaves.
    collectDefaultMetrics({ register: this.registry, labels: { worker } })
    const registers = [this.registry]
    this.requests = new Counter({ name: 'smooth_http_requests_total', help: 'HTTP requests answered', labelNames: ['server', 'method', 'route', 'status_code'], registers })
    this.duration = new Histogram({
      name: 'smooth_http_request_duration_seconds', help: 'HTTP request duration', labelNames: ['server', 'method', 'route', 'status_code'],
      // From 100 µs: a hello-world answer takes well under a millisecond.
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers,
    })
    this.accepted = new Counter({ name: 'smooth_connections_accepted_total', help: 'connections accepted by workers', labelNames: ['server'], registers })
    this.shed = new Counter({ name: 'smooth_requests_shed_total', help: 'requests answered 503 by under-pressure', labelNames: ['server'], registers })
    this.clientErrorsTotal = new Counter({ name: 'smooth_client_errors_total', help: 'requests answered 404, other 4xx from the error handler, or malformed (HTTP parser); logged at debug only', labelNames: ['server', 'kind'], registers })
    this.fdExhausted = new Counter({ name: 'smooth_worker_fd_exhausted_total', help: 'accepts and memory samples that failed for lack of file descriptors (EMFILE/ENFILE)', labelNames: ['where'], registers })
    this.fdExhausted.inc({ where: 'accept' }, 0)
    this.h2Refused = new Counter({ name: 'smooth_http2_streams_refused_total', help: 'HTTP/2 streams opened after their session\'s final GOAWAY in a drain: refused (REFUSED_STREAM, safe to retry)', labelNames: ['server'], registers })
    const w = this.worker
    new Gauge({ name: 'smooth_http_requests_in_flight', help: 'requests being answered', labelNames: ['worker'], registers, collect() { this.set({ worker: w }, inflight()) } })
    const p = (name: string, help: string, pick: (x: NonNullable<ReturnType<typeof pressure>>) => number) =>
      new Gauge({ name, help, labelNames: ['worker'], registers, collect() { const x = pressure(); if (x) this.set({ worker: w }, pick(x)) } })
    p('smooth_worker_event_loop_delay_seconds', 'event loop delay seen by under-pressure', (x) => x.eventLoopDelay / 1000)
    // Memory is read at scrape time, whatever the settings (under-pressure samples only when it has limits).
    new Gauge({ name: 'smooth_worker_heap_used_bytes', help: 'V8 heap used', labelNames: ['worker'], registers, collect() { this.set({ worker: w }, process.memoryUsage().heapUsed) } })
    new Gauge({ name: 'smooth_worker_rss_bytes', help: 'resident set size (what maxWorkerMemory compares)', labelNames: ['worker'], registers, collect() { this.set({ worker: w }, process.memoryUsage.rss()) } })
    p('smooth_worker_event_loop_utilization_ratio', 'event loop utilisation, as under-pressure reads it', (x) => x.eventLoopUtilized)
  }

  clientErrors(server: string): { inc(kind: 'not_found' | 'bad_request' | 'malformed'): void } {
    for (const kind of ['not_found', 'bad_request', 'malformed']) this.clientErrorsTotal.inc({ server, kind }, 0)
    return { inc: (kind) => this.clientErrorsTotal.inc({ server, kind }) }
  }

  /** Counts every answered request of `app` (onResponse: after the response is sent). */
  instrument(app: FastifyInstance, server: string): void {
    // Present from the first scrape, at 0: a rate() over them works before the first event.
    this.accepted.inc({ server }, 0)
    this.shed.inc({ server }, 0)
    this.h2Refused.inc({ server }, 0)
    // A callback hook, not an async one: no promise per request on the hot path.
    app.addHook('onResponse', (req, reply, done) => {
      const route = req.routeOptions.url ?? 'unmatched'
      const key = `${req.method} ${route} ${reply.statusCode}`
      let child = this.children.get(key)
      if (!child) {
        const labels: LabelValues<'server' | 'method' | 'route' | 'status_code'> = { server, method: req.method, route, status_code: reply.statusCode }
        child = { c: this.requests.labels(labels), h: this.duration.labels(labels) }
        this.children.set(key, child)
      }
      child.c.inc()
      child.h.observe(reply.elapsedTime / 1000)
      done()
    })
  }
}
