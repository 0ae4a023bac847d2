import type { FastifyReply, FastifyRequest } from 'fastify'
import { timingSafeEqual } from 'node:crypto'

/** The cookie the admin page keeps the token in (HttpOnly, SameSite=Strict, scoped to the pattern). */
export const COOKIE = 'smooth_admin'

export function isLoopback(address: string | undefined): boolean {
  if (!address) return false
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.')
}

export function sameSecret(given: string | undefined, secret: string): boolean {
  if (!given) return false
  const a = Buffer.from(given)
  const b = Buffer.from(secret)
  return a.length === b.length && timingSafeEqual(a, b)
}

export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined
  for (const part of header.split(';')) {
    const i = part.indexOf('=')
    if (i > 0 && part.slice(0, i).trim() === name) return decodeURIComponent(part.slice(i + 1).trim())
  }
  return undefined
}

/** A browser says where a request comes from; anything but this very origin is foreign. */
function foreign(req: FastifyRequest): boolean {
  if (req.headers['sec-fetch-site'] === 'cross-site') return true
  const origin = req.headers.origin
  if (!origin || origin === 'null') return origin === 'null'
  return origin !== `${req.protocol}://${req.headers.host}`
}

function sameOriginProof(req: FastifyRequest): boolean {
  const site = req.headers['sec-fetch-site']
  if (site === 'same-origin') return true
  return req.headers.origin === `${req.protocol}://${req.headers.host}`
}

export interface GuardOptions {
  /** The admin pattern, e.g. /debug/admin. */
  prefix: string
  token: string | undefined
  /** The user's own auth hook runs before this guard; with one, loopback-only no longer applies. */
  userAuth: boolean
  /** Routes (relative to the pattern) that change state. */
  stateChanging: Set<string>
  /** Routes anyone allowed to reach admin may load (the page shell and login). */
  open: Set<string>
}

/**
 * Who may do what:
 *  - a state-changing request a browser marks as cross-site (Sec-Fetch-Site or a foreign Origin) is
 *    refused in every mode (403): no other web page can act through a visitor's browser;
 *  - with a token: `Authorization: Bearer <token>` may do anything (GET included, as in GoFrame's
 *    links); the page's cookie may read, and may change state only by POST with same-origin proof;
 *  - with a user hook and no token: the hook decides;
 *  - with neither: loopback clients only.
 */
export function makeGuard(opts: GuardOptions) {
  return async function adminGuard(req: FastifyRequest, reply: FastifyReply): Promise<void> {
    const url = req.routeOptions.url ?? ''
    const route = url.startsWith(opts.prefix) ? url.slice(opts.prefix.length) || '/' : url
    const changing = opts.stateChanging.has(route)
    if (changing && foreign(req)) {
      await reply.code(403).send({ error: 'cross-site request refused', code: 'SMOOTH_ADMIN_CROSS_SITE' })
      return
    }
    if (!opts.token) {
      if (!opts.userAuth && !isLoopback(req.socket.remoteAddress)) {
        await reply.code(403).send({ error: 'admin answers loopback clients only when no admin token is set', code: 'SMOOTH_ADMIN_FORBIDDEN' })
      }
      return
    }
    if (opts.open.has(route)) return
    const auth = req.headers.authorization
    if (auth?.startsWith('Bearer ') && sameSecret(auth.slice(7), opts.token)) return
    if (sameSecret(cookieValue(req.headers.cookie, COOKIE), opts.token)) {
      if (!changing || (req.method === 'POST' && sameOriginProof(req))) return
      await reply.code(403).send({ error: 'with the page cookie, actions need a same-origin POST', code: 'SMOOTH_ADMIN_CSRF' })
      return
    }
    await reply.code(401).header('WWW-Authenticate', 'Bearer').send({ error: 'admin token required', code: 'SMOOTH_ADMIN_UNAUTHORIZED' })
  }
}
