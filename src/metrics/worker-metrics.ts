import { Registry, Counter, Gauge, collectDefaultMetrics, type Metric } from 'prom-client'
import type { FastifyInstance } from 'fastify'
import { RequestCounts } from './request-counts.js'

/**
 * A worker's metrics: prom-client's default Node metrics, HTTP requests by server, method, route
 * pattern and status, connections accepted, in-flight requests and under-pressure readings. The
 * primary collects every worker's registry as JSON and aggregates (summing by label set), so one
 * scrape answers for the whole tree. Per-worker readings (prom-client's defaults, in-flight requests,
 * pressure) carry a `worker` label; Smooth's counters and histograms are summed over workers and
 * outlive them (metrics/ledger.ts).
 *
 * The request path pays for a few integer increments (metrics/request-counts.ts); everything else
 * (prom-client's values, in-flight requests, pressure readings) is computed only when scraped.
 */
export class WorkerMetrics {
  readonly registry = new Registry()
  private readonly requests = new RequestCounts('smooth_http_requests_total', 'smooth_http_request_duration_seconds')
  readonly accepted: Counter<'server'>
  readonly shed: Counter<'server'>
  private readonly clientErrorsTotal: Counter<'server' | 'kind'>
  /** Accept or sampler failures for lack of file descriptors (EMFILE/ENFILE); see worker/fd-exhaustion.ts. */
  readonly fdExhausted: Counter<'where'>
  readonly h2Refused: Counter<'server'>
  /** Connection hand-off in a drain (worker/handoff.ts): connections passed on, and those closed instead. */
  readonly handedOver: Counter
  readonly closedOnDrain: Counter<'reason'>

  constructor(private readonly worker: string, inflight: () => number, pressure: () => { eventLoopDelay: number; heapUsed: number; rssBytes: number; eventLoopUtilized: number } | undefined) {
    // Per process, so labelled by worker: summed over workers they would drop whenever one leaves.
    collectDefaultMetrics({ register: this.registry, labels: { worker } })
    const registers = [this.registry]
    for (const m of this.requests.metrics()) this.registry.registerMetric(m as unknown as Metric)
    this.accepted = new Counter({ name: 'smooth_connections_accepted_total', help: 'connections accepted by workers', labelNames: ['server'], registers })
    this.shed = new Counter({ name: 'smooth_requests_shed_total', help: 'requests answered 503 by under-pressure', labelNames: ['server'], registers })
    this.clientErrorsTotal = new Counter({ name: 'smooth_client_errors_total', help: 'requests answered 404, other 4xx from the error handler, or malformed (HTTP parser); logged at debug only', labelNames: ['server', 'kind'], registers })
    this.fdExhausted = new Counter({ name: 'smooth_worker_fd_exhausted_total', help: 'accepts and memory samples that failed for lack of file descriptors (EMFILE/ENFILE)', labelNames: ['where'], registers })
    this.fdExhausted.inc({ where: 'accept' }, 0)
    this.h2Refused = new Counter({ name: 'smooth_http2_streams_refused_total', help: 'HTTP/2 streams opened after their session\'s final GOAWAY in a drain: refused (REFUSED_STREAM, safe to retry)', labelNames: ['server'], registers })
    this.handedOver = new Counter({ name: 'smooth_connections_handed_over_total', help: 'idle keep-alive connections a draining worker handed to a ready worker instead of closing them', registers })
    this.closedOnDrain = new Counter({ name: 'smooth_connections_closed_on_drain_total', help: 'connections a draining worker closed: idle (after the grace), connection_close (last response said so), deadline (forced), handoff_timeout (no receiver answered in time)', labelNames: ['reason'], registers })
    this.handedOver.inc(0)
    for (const reason of ['idle', 'connection_close', 'deadline', 'handoff_timeout']) this.closedOnDrain.inc({ reason }, 0)
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
    // The duration is Fastify's own (its start time and the end time it takes when the response is
    // finished): no timestamp of ours on the request path.
    const requests = this.requests
    app.addHook('onResponse', (req, reply, done) => {
      requests.count(server, req.method, req.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000)
      done()
    })
  }
}
