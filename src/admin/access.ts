import type { FastifyRequest } from 'fastify'

/**
 * Who is asking, as far as admin can tell: where the connection comes from, whether a proxy relayed
 * it, and which name the client used for us (Host, Origin).
 */

/** Headers a proxy, tunnel or sidecar adds: a request carrying one is relayed, whoever the TCP peer is. */
export const RELAY_HEADERS = ['forwarded', 'x-forwarded-for', 'x-real-ip', 'via'] as const

/** Names that can only mean this machine. 127.0.0.0/8 is loopback as a whole. */
const LOOPBACK_NAMES = new Set(['localhost', '[::1]'])

export function isLoopback(address: string | undefined): boolean {
  if (!address) return false
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.')
}

export function isRelayed(req: FastifyRequest): boolean {
  for (const h of RELAY_HEADERS) if (req.headers[h] !== undefined) return true
  return false
}

/**
 * Local: the connection comes from this machine and no proxy relayed it. A reverse proxy on the same
 * host connects from 127.0.0.1 on behalf of anyone on the internet: its request is remote.
 */
export function isLocal(req: FastifyRequest): boolean {
  return isLoopback(req.socket.remoteAddress) && !isRelayed(req)
}

function isLoopbackName(host: string): boolean {
  return LOOPBACK_NAMES.has(host) || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)
}

/** "name:port", "[v6]:port" or "name" -> lower-case name and port (undefined when absent). */
export function splitHost(value: string): { name: string; port: number | undefined } | undefined {
  const m = /^(\[[0-9a-f:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/i.exec(value.trim())
  if (!m) return undefined
  return { name: m[1]!.toLowerCase(), port: m[2] === undefined ? undefined : Number(m[2]) }
}

export interface HostRules {
  /** With a token: the configured names a request may use (`*`: any). Unused without a token. */
  allowed: string[]
  /** Whether admin has a token (without one, loopback names only, and with our own port). */
  token: boolean
}

/**
 * Whether `host` (a Host header, or an Origin's host) names us. Without a token only loopback names
 * with the port the connection came in on pass: a web page the user opens cannot rebind its own name
 * to 127.0.0.1 and talk to admin (DNS rebinding keeps the attacker's name in Host). With a token:
 * loopback names on any port (a proxy on this host), and the names in `allowed` ("name" or
 * "name:port"; "*" allows any).
 */
export function hostAllowed(host: string | undefined, localPort: number | undefined, defaultPort: number, rules: HostRules): boolean {
  if (!host) return false
  const h = splitHost(host)
  if (!h) return false
  const port = h.port ?? defaultPort
  if (!rules.token) return isLoopbackName(h.name) && port === localPort
  if (isLoopbackName(h.name)) return true
  for (const entry of rules.allowed) {
    if (entry === '*') return true
    const a = splitHost(entry)
    if (a && a.name === h.name && (a.port === undefined || a.port === port)) return true
  }
  return false
}

/** An Origin header's host part, or undefined for "null" or anything that is not an http(s) origin. */
export function originHost(origin: string): { host: string; protocol: string } | undefined {
  const m = /^(https?):\/\/([^/]+)$/i.exec(origin)
  return m ? { protocol: m[1]!.toLowerCase(), host: m[2]! } : undefined
}
