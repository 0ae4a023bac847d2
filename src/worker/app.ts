import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import underPressure from '@fastify/under-pressure'
import type { Logger } from 'pino'
import type { ResolvedProcess, ResolvedServer } from '../config/resolve.js'
import type { Server } from '../server.js'
import { lazyChildLoggerFactory } from './request-logger.js'
import type { WorkerMetrics } from '../metrics/worker-metrics.js'
import { adminPlugin, type AdminContext } from '../admin/plugin.js'

/**
 * Per-request "incoming request"/"request completed" lines cost more than a hello-world they log:
 * they are written at debug level instead of info. Errors keep Fastify's own levels.
 */
class QuietRequests extends LogController {
  /** Read once: the level is set from the config before the apps are built, and not changed. */
  constructor(private readonly debug: boolean) {
    super()
  }
  override incomingRequest(request: Parameters<LogController['incomingRequest']>[0]): void {
    // Checked before building the line's object: the hot path allocates nothing for a disabled line.
    if (this.debug) request.log.debug({ req: request }, 'incoming request')
  }
  override requestCompleted(...args: Parameters<LogController['requestCompleted']>): void {
    const [error, , reply] = args
    if (error) super.requestCompleted(...args)
    else if (this.debug) reply.log.debug({ res: reply, responseTime: reply.elapsedTime }, 'request completed')
  }
}

/** Builds the Fastify instance of one named server: under-pressure, the user's steps, admin. */
export async function buildApp(
  server: Server,
  config: ResolvedServer,
  proc: ResolvedProcess,
  log: Logger,
  admin: AdminContext,
  metrics: WorkerMetrics | undefined,
): Promise<FastifyInstance> {
  const options = {
    loggerInstance: log.child({ server: server.name }) as FastifyBaseLogger,
    logController: new QuietRequests(log.isLevelEnabled('debug')),
    childLoggerFactory: lazyChildLoggerFactory,
    keepAliveTimeout: config.idleTimeoutMs,
    requestTimeout: config.readTimeoutMs,
  }
  // HTTP/2 without Fastify's own TLS: the worker terminates TLS and hands it decrypted h2 sockets.
  // (One instance type for both: the request path Smooth adds is the same.)
  const app = (config.http2 ? Fastify({ ...options, http2: true }) : Fastify(options)) as unknown as FastifyInstance
  if (metrics) metrics.instrument(app, server.name)
  const retryAfter = config.underPressure.retryAfter ?? 10
  await app.register(underPressure, {
    // Utilisation over the last sample, not since start: a worker busy now is under pressure now,
    // and recovers as soon as it is idle again (what steering connections needs).
    eventLoopUtilizationMode: 'interval',
    ...config.underPressure,
    exposeStatusRoute: false,
    // Shed requests are counted; the answer stays under-pressure's: 503 with Retry-After.
    pressureHandler: (req, reply, type) => {
      // Metrics and admin stay reachable under pressure: that is when they are needed.
      const url = req.routeOptions.url ?? ''
      if ((config.metricsPath && url === config.metricsPath) || (config.adminPattern && url.startsWith(config.adminPattern))) return
      metrics?.shed.inc({ server: server.name })
      void reply.code(503).header('Retry-After', String(retryAfter)).send({ error: 'Service Unavailable', message: `under pressure (${type})` })
    },
  })
  for (const step of server.steps) {
    // Fastify instances are thenables: await only a step's own promise, never the instance it returns.
    const result = step(app)
    if (result instanceof Promise) await result
  }
  if (metrics && config.metricsPath) {
    app.get(config.metricsPath, async (_req, reply) => {
      const { status, body } = await admin.control('metrics', {})
      return reply.code(status).type(status === 200 ? 'text/plain; version=0.0.4; charset=utf-8' : 'application/json').send(body)
    })
  }
  if (config.adminPattern) {
    await app.register(adminPlugin, { prefix: config.adminPattern, context: admin, token: proc.adminToken, ...(server.adminAuth ? { auth: server.adminAuth } : {}) })
  }
  await app.ready()
  return app
}
