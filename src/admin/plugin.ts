import type { FastifyInstance, FastifyPluginAsync, FastifyReply, onRequestHookHandler } from 'fastify'
import type { ControlCommand } from '../protocol.js'
import type { Logger } from 'pino'
import { COOKIE, makeGuard } from './guard.js'
import type { AdminCredentials } from './credentials.js'
import { processAttempts } from './attempts.js'
import { renderPage } from './page.js'
import { httpError, SmoothError } from '../errors.js'

/** How the admin routes reach the primary (IPC from a worker, or a direct call in the primary). */
export interface AdminContext {
  control(command: ControlCommand, args: Record<string, string | undefined>): Promise<{ status: number; body: unknown }>
}

export interface AdminOptions {
  context: AdminContext
  /** Without credentials, admin has no token (see guard.ts for what that allows). */
  credentials: AdminCredentials | undefined
  /** With a token: Host names admin answers to besides loopback ones (`adminHosts`). */
  hosts: string[]
  /** Where failed authentications are logged. */
  log: Logger
  /** The user's own auth (e.g. @fastify/basic-auth's hook), run before Smooth's guard. */
  auth?: onRequestHookHandler
}

const ACTIONS = ['restart', 'reload', 'shutdown', 'scale'] as const

/**
 * The admin routes under the admin pattern: the page, status, login/logout, and the actions. GET on
 * an action works as in GoFrame (with a Bearer token, or locally without auth); HEAD never acts; POST is what the
 * page and the CLI use. Actions answer 202 with the rollout, or with `?wait=1` its outcome.
 */
export const adminPlugin: FastifyPluginAsync<AdminOptions> = async (app, opts) => {
  app.addHook('onSend', async (_req, reply) => {
    reply.header('Cache-Control', 'no-store')
    reply.header('X-Frame-Options', 'DENY')
  })

  // Readiness for a load balancer or a Kubernetes probe: 200 or 503, and nothing else to learn. It
  // stands outside the guard (and the user's auth hook): a probe carries no credentials.
  app.get('/ready', async (_req, reply) => {
    const { status, body } = await opts.context.control('ready', {})
    return reply.code(status).send(body)
  })

  // Everything else, behind the guard (an encapsulated context: its hooks stop at its routes).
  await app.register(async (guarded) => guardedRoutes(guarded, opts))
}

async function guardedRoutes(app: FastifyInstance, opts: AdminOptions): Promise<void> {
  const prefix = app.prefix || '/'
  const attempts = processAttempts(opts.log)
  if (opts.auth) app.addHook('onRequest', opts.auth)
  app.addHook('onRequest', makeGuard({
    prefix: app.prefix,
    credentials: opts.credentials,
    userAuth: Boolean(opts.auth),
    stateChanging: new Set(['/restart', '/reload', '/shutdown', '/scale', '/login', '/logout']),
    open: new Set(['/', '/login']),
    hosts: opts.hosts,
    attempts,
  }))

  app.get('/', async (_req, reply) =>
    reply.type('text/html; charset=utf-8')
      .header('Content-Security-Policy', "default-src 'self'; script-src 'unsafe-inline' 'self'; style-src 'unsafe-inline'")
      .send(renderPage(prefix, Boolean(opts.credentials))))

  app.get('/status', async (_req, reply) => {
    const { status, body } = await opts.context.control('status', {})
    return reply.code(status).send(body)
  })

  // The cookie is a session value derived from the token (credentials.ts), never the token itself.
  app.post('/login', async (req, reply) => {
    const token = (req.body as { token?: unknown } | undefined)?.token
    const client = req.socket.remoteAddress ?? 'unknown'
    const waitMs = attempts.blockedFor(client)
    if (waitMs > 0) {
      const { status, body } = httpError(new SmoothError('SMOOTH_ADMIN_TOO_MANY_ATTEMPTS'))
      return reply.code(status).header('Retry-After', String(Math.ceil(waitMs / 1000))).send(body)
    }
    const session = opts.credentials && typeof token === 'string' ? opts.credentials.sessionFor(token) : undefined
    if (!session) {
      if (opts.credentials) attempts.fail(client, '/login')
      const { status, body } = httpError(new SmoothError('SMOOTH_ADMIN_UNAUTHORIZED', 'wrong token'))
      return reply.code(status).send(body)
    }
    const secure = req.protocol === 'https' ? '; Secure' : ''
    reply.header('Set-Cookie', `${COOKIE}=${session}; HttpOnly; SameSite=Strict; Path=${prefix}${secure}`)
    return { ok: true }
  })

  app.post('/logout', async (_req, reply) => {
    reply.header('Set-Cookie', `${COOKIE}=; HttpOnly; SameSite=Strict; Path=${prefix}; Max-Age=0`)
    return { ok: true }
  })

  for (const command of ACTIONS) {
    app.route({
      method: ['GET', 'POST'],
      url: `/${command}`,
      // HEAD must never act: no HEAD twin of the GET (Fastify adds one by default).
      exposeHeadRoute: false,
      handler: async (req, reply) => {
        const q = (req.query ?? {}) as Record<string, unknown>
        const args: Record<string, string | undefined> = {}
        for (const name of ['newExeFilePath', 'wait', 'workers', 'canary']) {
          const v = q[name]
          if (v !== undefined && typeof v !== 'string') return badRequest(reply, `${name} given more than once`)
          if (typeof v === 'string' && v.includes('\0')) return badRequest(reply, `${name} contains a NUL byte`)
          args[name] = v
        }
        const { status, body } = await opts.context.control(command, args)
        return reply.code(status).send(body)
      },
    })
  }
}

function badRequest(reply: FastifyReply, why: string): FastifyReply {
  const { status, body } = httpError(new SmoothError('SMOOTH_ADMIN_BAD_REQUEST', why))
  return reply.code(status).send(body)
}
