import Fastify, { type FastifyBaseLogger, type FastifyInstance, type onRequestHookHandler } from 'fastify'
import underPressure from '@fastify/under-pressure'
import type { Logger } from 'pino'
import type { ResolvedProcess, ResolvedServer } from '../config/resolve.js'
import type { Server } from '../server.js'
import { lazyChildLoggerFactory } from './request-logger.js'
import type { WorkerMetrics } from '../metrics/worker-metrics.js'
import { adminPlugin, type AdminContext } from '../admin/plugin.js'
import { workerCredentials, type AdminCredentials } from '../admin/credentials.js'
import { makeGuard, isLocal } from '../admin/guard.js'
import { processAttempts } from '../admin/attempts.js'
import { QuietRequests } from './quiet-requests.js'
import { instanceFrom } from './factory.js'
import { lazySerializer } from './lazy-serializer.js'
import { httpError, SmoothError } from '../errors.js'

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
    ...config.fastify,
    loggerInstance: log.child({ server: server.name }) as FastifyBaseLogger,
    logController: new QuietRequests(log.isLevelEnabled('debug'), metrics?.clientErrors(server.name)),
    childLoggerFactory: lazyChildLoggerFactory,
    keepAliveTimeout: config.idleTimeoutMs,
    requestTimeout: config.readTimeoutMs,
    schemaController: lazySerializer(config.fastify.schemaController as Parameters<typeof lazySerializer>[0]),
  }
  // HTTP/2 without Fastify's own TLS: the worker terminates TLS and hands it decrypted h2 sockets.
  // (One instance type for both: the request path Smooth adds is the same.)
  // A factory's instance keeps its own logger and options: it was built by the user's code.
  const app = server.appFactory
    ? await instanceFrom(server.appFactory)
    : (config.http2 ? Fastify({ ...options, http2: true }) : Fastify(options)) as unknown as FastifyInstance
  if (metrics) metrics.instrument(app, server.name)
  // Malformed requests never reach a route: counted here (Fastify answers them and logs at trace).
  const malformed = metrics?.clientErrors(server.name)
  if (malformed) app.server.on('clientError', () => malformed.inc('malformed'))
  const credentials = workerCredentials(proc.adminToken)
  const retryAfter = config.underPressure.retryAfter ?? 10
  await app.register(underPressure, {
    // Utilisation over the last sample, not since start: a worker busy now is under pressure now,
    // and recovers as soon as it is idle again (what steering connections needs).
    eventLoopUtilizationMode: 'interval',
    ...config.underPressure,
    exposeStatusRoute: false,
    // Shed requests are counted; the answer stays under-pressure's (503 with Retry-After), with our code.
    pressureHandler: (req, reply, type) => {
      // Metrics and admin stay reachable under pressure: that is when they are needed.
      const url = req.routeOptions.url ?? ''
      if ((config.metricsPath && url === config.metricsPath) || (config.adminPattern && url.startsWith(config.adminPattern))) return
      metrics?.shed.inc({ server: server.name })
      const { status, body } = httpError(new SmoothError('SMOOTH_UNDER_PRESSURE', type))
      void reply.code(status).header('Retry-After', String(retryAfter)).send({ ...body, message: body.error, error: 'Service Unavailable' })
    },
  })
  for (const step of server.steps) {
    // Fastify instances are thenables: await only a step's own promise, never the instance it returns.
    const result = step(app)
    if (result instanceof Promise) await result
  }
  if (metrics && config.metricsPath) {
    app.get(config.metricsPath, { onRequest: metricsAccess(proc, credentials, server.adminAuth, log) }, async (_req, reply) => {
      const { status, body } = await admin.control('metrics', {})
      return reply.code(status).type(status === 200 ? 'text/plain; version=0.0.4; charset=utf-8' : 'application/json').send(body)
    })
  }
  if (config.adminPattern) {
    await app.register(adminPlugin, {
      prefix: config.adminPattern, context: admin, credentials, hosts: proc.adminHosts, log, ...(server.adminAuth ? { auth: server.adminAuth } : {}),
    })
  }
  await app.ready()
  return app
}

/**
 * Who may read metrics on the app ports (`metricsAccess`): "admin" (default) applies admin's rule (a
 * token if there is one, else direct loopback requests with a loopback Host, or the user's auth hook);
 * "local": direct loopback requests only; "open": anyone (the pre-0.2 behaviour).
 */
function metricsAccess(proc: ResolvedProcess, credentials: AdminCredentials | undefined, userAuth: onRequestHookHandler | undefined, log: Logger): onRequestHookHandler[] {
  switch (proc.metricsAccess) {
    case 'open':
      return []
    case 'local':
      return [async (req, reply) => {
        if (isLocal(req)) return
        const { status, body } = httpError(new SmoothError('SMOOTH_ADMIN_FORBIDDEN', 'metrics answer direct loopback requests only'))
        await reply.code(status).send(body)
      }]
    case 'admin': {
      const guard = makeGuard({ prefix: '', credentials, userAuth: Boolean(userAuth), stateChanging: new Set(), open: new Set(), hosts: proc.adminHosts, attempts: processAttempts(log) }) as onRequestHookHandler
      return userAuth && !credentials ? [userAuth, guard] : [guard]
    }
  }
}
