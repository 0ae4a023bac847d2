import type { Logger } from 'pino'
import type { ResolvedConfig } from '../config/resolve.js'
import { ErrorCodes, type ErrorCode } from '../errors.js'

/** Exactly what admin without a token answers, said once at start-up (tests compare the `code`). */
export const NO_TOKEN_WARNING = ErrorCodes.SMOOTH_ADMIN_NO_TOKEN

/** Start-up warnings about admin's exposure. */
export function warnAboutAdmin(config: ResolvedConfig, log: Logger): void {
  if (config.process.adminToken) return
  for (const s of config.servers) {
    if (!s.adminPattern) continue
    const exposed = s.listeners.filter((l) => !l.host || !/^(127\.|::1$|localhost$)/.test(l.host)).map((l) => l.text)
    log.warn({ server: s.name, pattern: s.adminPattern, code: 'SMOOTH_ADMIN_NO_TOKEN' satisfies ErrorCode, exposedOn: exposed.length > 0 ? exposed : undefined }, NO_TOKEN_WARNING)
  }
}
