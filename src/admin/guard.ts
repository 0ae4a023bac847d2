import type { FastifyReply, FastifyRequest } from 'fastify'
import type { AdminCredentials } from './credentials.js'
import type { FailedAttempts } from './attempts.js'
import { hostAllowed, isLocal, originHost, type HostRules } from './access.js'
import { httpError, SmoothError, type ErrorCode } from '../errors.js'

export { isLoopback, isLocal } from './access.js'

/** The cookie of a signed-in admin page (HttpOnly, SameSite=Strict, scoped to the pattern). */
export const COOKIE = 'smooth_admin'

export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined
  for (const part of header.split(';')) {
    const i = part.indexOf('=')
    if (i > 0 && part.slice(0, i).trim() === name) {
      try {
        return decodeURIComponent(part.slice(i + 1).trim())
      } catch {
        return undefined
      }
    }
  }
  return undefined
}

export interface GuardOptions {
  /** The admin pattern, e.g. /debug/admin ('' for a route outside admin, such as /metrics). */
  prefix: string
  credentials: AdminCredentials | undefined
  /** The user's own auth hook runs before this guard; with one and no token, it decides. */
  userAuth: boolean
  /** Routes (relative to the pattern) that change state. */
  stateChanging: Set<string>
  /** Routes anyone allowed to reach admin may load (the page shell and login). */
  open: Set<string>
  /** With a token: the Host names admin answers to besides loopback ones (see access.ts). */
  hosts: string[]
  attempts: FailedAttempts
}

/** Refuses with the code's own HTTP status (errors.ts); `why` names the rule that refused. */
function refuse(reply: FastifyReply, code: ErrorCode, why?: string): FastifyReply {
  const { status, body } = httpError(new SmoothError(code, why ?? ''))
  return reply.code(status).send(body)
}

/**
 * Who may do what, in this order:
 *  - a request a browser marks as cross-site (`Sec-Fetch-Site: cross-site`), or whose Origin is not
 *    one of our names, is refused in every mode (reads too); an `Origin: null` may not change state;
 *  - the Host must name us (access.ts: loopback names with our port without a token; with a token,
 *    loopback names and the configured `adminHosts`);
 *  - without a token: the user's hook decides if there is one; else only local requests (loopback
 *    peer and not relayed by a proxy) are served;
 *  - with a token: a client with too many failed attempts gets 429; `Authorization: Bearer <token>`
 *    may do anything; the page's session cookie may read, and change state only by POST with
 *    same-origin proof. A wrong credential counts as a failed attempt (no credential at all does not:
 *    the signed-out page polls).
 */
export function makeGuard(opts: GuardOptions) {
  const rules: HostRules = { allowed: opts.hosts, token: Boolean(opts.credentials) }
  return async function adminGuard(req: FastifyRequest, reply: FastifyReply): Promise<void> {
    const url = req.routeOptions.url ?? ''
    const route = url.startsWith(opts.prefix) ? url.slice(opts.prefix.length) || '/' : url
    const changing = opts.stateChanging.has(route)
    const defaultPort = req.protocol === 'https' ? 443 : 80
    const localPort = req.socket.localPort
    if (req.headers['sec-fetch-site'] === 'cross-site') {
      await refuse(reply, 'SMOOTH_ADMIN_CROSS_SITE', 'the browser marks it cross-site')
      return
    }
    const origin = req.headers.origin
    if (origin !== undefined) {
      const o = origin === 'null' ? undefined : originHost(origin)
      const ok = o ? hostAllowed(o.host, localPort, o.protocol === 'https' ? 443 : 80, rules) : !changing && origin === 'null'
      if (!ok) {
        await refuse(reply, 'SMOOTH_ADMIN_CROSS_SITE', 'its Origin is not one of admin\'s names')
        return
      }
    }
    if (!hostAllowed(hostOf(req), localPort, defaultPort, rules)) {
      await refuse(reply, 'SMOOTH_ADMIN_HOST', rules.token ? 'with a token, loopback names and adminHosts are served' : 'without an admin token, only a loopback Host with this port is served')
      return
    }
    const creds = opts.credentials
    if (!creds) {
      if (!opts.userAuth && !isLocal(req)) {
        await refuse(reply, 'SMOOTH_ADMIN_FORBIDDEN', 'without an admin token, admin answers direct loopback requests only (not relayed by a proxy)')
      }
      return
    }
    if (opts.open.has(route)) return
    const client = req.socket.remoteAddress ?? 'unknown'
    const waitMs = opts.attempts.blockedFor(client)
    if (waitMs > 0) {
      reply.header('Retry-After', String(Math.ceil(waitMs / 1000)))
      await refuse(reply, 'SMOOTH_ADMIN_TOO_MANY_ATTEMPTS')
      return
    }
    const auth = req.headers.authorization
    const cookie = cookieValue(req.headers.cookie, COOKIE)
    if (auth?.startsWith('Bearer ') && creds.checkToken(auth.slice(7))) return
    if (cookie !== undefined && creds.checkSession(cookie)) {
      if (!changing || (req.method === 'POST' && sameOriginProof(req))) return
      await refuse(reply, 'SMOOTH_ADMIN_CSRF')
      return
    }
    if (auth !== undefined || cookie !== undefined) opts.attempts.fail(client, route)
    reply.header('WWW-Authenticate', 'Bearer')
    await refuse(reply, 'SMOOTH_ADMIN_UNAUTHORIZED', 'no valid Bearer token or session cookie')
  }
}

/** Host has been checked against our names; the browser's Origin (or Sec-Fetch-Site) must match it. */
function sameOriginProof(req: FastifyRequest): boolean {
  if (req.headers['sec-fetch-site'] === 'same-origin') return true
  return req.headers.origin === `${req.protocol}://${hostOf(req)}`
}

/** HTTP/1 Host, or HTTP/2's :authority (Node's compatibility layer has no Host then). */
function hostOf(req: FastifyRequest): string | undefined {
  const h = req.headers.host ?? req.headers[':authority']
  return typeof h === 'string' ? h : undefined
}
