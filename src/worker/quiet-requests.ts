import { LogController } from 'fastify'

/** Counts client errors by kind (not_found, bad_request, malformed); see metrics/worker-metrics.ts. */
export interface ClientErrorCount { inc(kind: 'not_found' | 'bad_request' | 'malformed'): void }

/**
 * What a client can make a worker log must not grow with what it sends:
 *  - per-request "incoming request"/"request completed" lines cost more than a hello-world they log:
 *    debug level (errors keep Fastify's own levels);
 *  - a 404 is a debug line, and a request the app answers 4xx (bad JSON, a wrong content type...) is a
 *    debug line with the error's code and message, no stack: a client could otherwise fill a disk
 *    (30,000 404s were 4.9 MB of log). Both are counted in `smooth_client_errors_total` instead;
 *  - 5xx stay errors, with their stack: those are ours.
 */
export class QuietRequests extends LogController {
  /** Read once: the level is set from the config before the apps are built, and not changed. */
  constructor(private readonly debug: boolean, private readonly count?: ClientErrorCount) {
    super()
  }
  override incomingRequest(request: Parameters<LogController['incomingRequest']>[0]): void {
    // Checked before building the line's object: the hot path allocates nothing for a disabled line.
    if (this.debug) request.log.debug({ req: request }, 'incoming request')
  }
  override requestCompleted(...args: Parameters<LogController['requestCompleted']>): void {
    const [error, , reply] = args
    if (error && reply.statusCode >= 500) super.requestCompleted(...args)
    else if (this.debug) reply.log.debug({ res: reply, responseTime: reply.elapsedTime, ...(error ? { code: (error as { code?: string }).code } : {}) }, 'request completed')
  }
  override routeNotFound(...args: Parameters<LogController['routeNotFound']>): void {
    this.count?.inc('not_found')
    if (this.debug) args[0].log.debug(`Route ${args[0].raw.method}:${args[0].raw.url} not found`)
  }
  override defaultErrorLog(...args: Parameters<LogController['defaultErrorLog']>): void {
    const [error, , reply] = args
    if (reply.statusCode >= 500) return super.defaultErrorLog(...args)
    this.count?.inc('bad_request')
    if (this.debug) reply.log.debug({ res: reply, code: (error as { code?: string } | undefined)?.code }, error?.message ?? 'client error')
  }
}
