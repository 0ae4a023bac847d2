import Fastify, { type FastifyInstance, type onRequestHookHandler } from 'fastify'
import type { Logger } from 'pino'
import type { ListenerSpec } from '../config/resolve.js'
import { adminPlugin, type AdminContext } from './plugin.js'
import type { AdminCredentials } from './credentials.js'

/**
 * Admin on a separate address (e.g. 127.0.0.1:9001), served by the primary itself: it answers even
 * while every worker is being replaced, and `?wait=1` never waits on a worker the rollout drains.
 * In a successor the listener is inherited like the app's (`fd`).
 */
export async function startAdminServer(opts: {
  spec: ListenerSpec
  fd: number | undefined
  pattern: string
  credentials: AdminCredentials | undefined
  hosts: string[]
  auth: onRequestHookHandler | undefined
  context: AdminContext
  log: Logger
}): Promise<{ app: FastifyInstance; fd: number; port: number }> {
  const app = Fastify({ logger: false })
  await app.register(adminPlugin, { prefix: opts.pattern, context: opts.context, credentials: opts.credentials, hosts: opts.hosts, log: opts.log, ...(opts.auth ? { auth: opts.auth } : {}) })
  // Prometheus scrapes the admin address too, without credentials whatever `metricsAccess` says: this
  // address is meant to be private (a loopback or internal interface), which is why scrapes belong here.
  app.get('/metrics', async (_req, reply) => {
    const { status, body } = await opts.context.control('metrics', {})
    return reply.code(status).type(status === 200 ? 'text/plain; version=0.0.4; charset=utf-8' : 'application/json').send(body)
  })
  await app.ready()
  await new Promise<void>((resolve, reject) => {
    app.server.once('error', reject)
    if (opts.fd !== undefined) app.server.listen({ fd: opts.fd }, resolve)
    else app.server.listen({ host: opts.spec.host, port: opts.spec.port }, resolve)
  })
  const handle = (app.server as unknown as { _handle: { fd: number } })._handle
  const port = (app.server.address() as { port: number }).port
  opts.log.info({ address: `${opts.spec.host ?? ''}:${port}`, port }, `admin server listening on [${opts.spec.host ?? ''}:${port}]`)
  return { app, fd: handle.fd, port }
}
