import type { FastifyReply, FastifyRequest } from 'fastify'
import { timingSafeEqual } from 'node:crypto'

/**
 * Who may use the admin routes. With a token: a matching `Authorization: Bearer` header. Without one:
 * loopback clients only (and a warning at start), so an admin page left on by mistake is not open to
 * the network.
 */
export function isLoopback(address: string | undefined): boolean {
  if (!address) return false
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.')
}

function tokenMatches(header: string | undefined, token: string): boolean {
  if (!header?.startsWith('Bearer ')) return false
  const given = Buffer.from(header.slice(7))
  const want = Buffer.from(token)
  return given.length === want.length && timingSafeEqual(given, want)
}

export function makeGuard(token: string | undefined) {
  return async function adminGuard(req: FastifyRequest, reply: FastifyReply): Promise<void> {
    if (token) {
      if (!tokenMatches(req.headers.authorization, token)) {
        await reply.code(401).header('WWW-Authenticate', 'Bearer').send({ error: 'admin token required' })
      }
      return
    }
    if (!isLoopback(req.socket.remoteAddress)) {
      await reply.code(403).send({ error: 'admin answers loopback clients only when no admin token is set' })
    }
  }
}
