import type { FastifyPluginAsync } from 'fastify'
import type { ControlCommand } from '../protocol.js'
import { makeGuard } from './guard.js'
import { renderPage } from './page.js'

/** How the admin routes reach the primary (over the worker's IPC channel). */
export interface AdminContext {
  control(command: ControlCommand, args: Record<string, string | undefined>): Promise<{ status: number; body: unknown }>
}

export interface AdminOptions {
  context: AdminContext
  token: string | undefined
}

/**
 * The admin routes under the admin pattern: the page, status, and the seed's restart/shutdown links
 * plus reload. GET works as in GoFrame; POST is what scripts should use.
 */
export const adminPlugin: FastifyPluginAsync<AdminOptions> = async (app, opts) => {
  app.addHook('onRequest', makeGuard(opts.token))
  const act = (command: ControlCommand) => async (req: { query: unknown }, reply: { code(n: number): unknown }) => {
    const q = (req.query ?? {}) as Record<string, string | undefined>
    const { status, body } = await opts.context.control(command, q)
    reply.code(status)
    return body
  }
  app.get('/', async (_req, reply) => {
    const { body } = await opts.context.control('status', {})
    return reply.type('text/html; charset=utf-8').send(renderPage(body, app.prefix))
  })
  app.get('/status', act('status'))
  for (const command of ['restart', 'reload', 'shutdown'] as const) {
    app.route({ method: ['GET', 'POST'], url: `/${command}`, handler: act(command) })
  }
}
