import type { Logger } from 'pino'

/** Failed attempts a client may make in one window before it is refused with 429. */
export const MAX_FAILURES = 5
export const WINDOW_MS = 60_000
/** Log lines about failed attempts, over all clients, per window. */
const MAX_LINES = 20
/** Clients remembered at once: a flood of addresses cannot grow the map without bound. */
const MAX_CLIENTS = 10_000

interface Client { windowStart: number; failures: number; logged: boolean }

/**
 * Failed admin authentications per client (TCP peer address), in fixed one-minute windows. After
 * MAX_FAILURES in a window the client gets 429 with Retry-After until the window ends, whatever it
 * sends (so it cannot go on guessing); other clients are not affected.
 *
 * Our own, not @fastify/rate-limit: that one counts every request to a route, and what must be
 * limited here is failed authentications only (a signed-in page polls /status every second, and a
 * scraper must never be slowed). It is per process, like rate-limit's default store: with N workers a
 * client gets at most N × MAX_FAILURES tries a minute.
 *
 * Log lines are bounded too: one per client per window (its first failure), a summary of the
 * previous window's count when a client goes on failing, and at most MAX_LINES per window overall.
 */
export class FailedAttempts {
  private readonly clients = new Map<string, Client>()
  private lines = 0
  private linesWindow = 0
  private suppressed = 0

  constructor(private readonly log: Logger, private readonly now: () => number = Date.now) {}

  /** Milliseconds until `client` may try again, or 0 when it may now. */
  blockedFor(client: string): number {
    const c = this.current(client, false)
    if (!c || c.failures < MAX_FAILURES) return 0
    return c.windowStart + WINDOW_MS - this.now()
  }

  /** Records a failed attempt; returns true once the client is over the limit. */
  fail(client: string, route: string): boolean {
    const c = this.current(client, true)!
    c.failures++
    if (!c.logged) {
      c.logged = true
      this.line({ client, route }, 'admin: failed authentication')
    } else if (c.failures === MAX_FAILURES) {
      this.line({ client, failures: c.failures, windowMs: WINDOW_MS }, 'admin: too many failed authentications: client refused (429) until the window ends')
    }
    return c.failures >= MAX_FAILURES
  }

  private current(client: string, create: boolean): Client | undefined {
    const now = this.now()
    let c = this.clients.get(client)
    if (c && now - c.windowStart >= WINDOW_MS) {
      if (c.failures > MAX_FAILURES) this.line({ client, failures: c.failures }, 'admin: failed authentications in the last window')
      this.clients.delete(client)
      c = undefined
    }
    if (!c && create) {
      if (this.clients.size >= MAX_CLIENTS) this.prune(now)
      c = { windowStart: now, failures: 0, logged: false }
      this.clients.set(client, c)
    }
    return c
  }

  private prune(now: number): void {
    for (const [k, c] of this.clients) if (now - c.windowStart >= WINDOW_MS) this.clients.delete(k)
    // Still full: forget the oldest (a Map iterates in insertion order).
    for (const k of this.clients.keys()) {
      if (this.clients.size < MAX_CLIENTS) break
      this.clients.delete(k)
    }
  }

  private line(fields: Record<string, unknown>, msg: string): void {
    const now = this.now()
    if (now - this.linesWindow >= WINDOW_MS) {
      if (this.suppressed > 0) this.log.warn({ suppressed: this.suppressed }, 'admin: failed-authentication lines suppressed in the last window')
      this.linesWindow = now
      this.lines = 0
      this.suppressed = 0
    }
    if (this.lines >= MAX_LINES) {
      this.suppressed++
      return
    }
    this.lines++
    this.log.warn(fields, msg)
  }
}

let shared: FailedAttempts | undefined

/** One count per process, shared by every admin route set in it (each server's, the admin address's). */
export function processAttempts(log: Logger): FailedAttempts {
  shared ??= new FailedAttempts(log)
  return shared
}
