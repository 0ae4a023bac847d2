import { closeSync } from 'node:fs'
import type { Logger } from 'pino'
import { resolveConfig, type CodeServer, type ResolvedConfig } from '../config/resolve.js'
import { findConfigFile, loadConfigFile } from '../config/load.js'
import type { SmoothError } from '../errors.js'

/**
 * Settings the primary applies itself: they take effect when a new primary starts (a restart), never
 * in a reload (whose new workers only read their own settings: timeouts, limits, TLS files, …).
 */
const PRIMARY_SETTINGS = {
  workers: 'workers',
  canary: 'canary',
  graceful: 'graceful',
  gracefulTimeoutMs: 'gracefulTimeout',
  gracefulShutdownTimeoutMs: 'gracefulShutdownTimeout',
  readyTimeoutMs: 'readyTimeout',
  fullRestart: 'fullRestart',
  metrics: 'metrics',
  adminToken: 'adminToken',
  adminExeAllowList: 'adminExeAllowList',
  pidFile: 'pidFile',
} as const

/** The config keys whose new values a reload cannot apply (listen addresses included). */
export function needRestart(running: ResolvedConfig, next: ResolvedConfig): string[] {
  const out: string[] = []
  for (const [field, key] of Object.entries(PRIMARY_SETTINGS)) {
    const a = running.process[field as keyof typeof PRIMARY_SETTINGS]
    const b = next.process[field as keyof typeof PRIMARY_SETTINGS]
    if (JSON.stringify(a) !== JSON.stringify(b)) out.push(key)
  }
  const keys = (c: ResolvedConfig): string => c.listeners.map((l) => `${l.server} ${l.key}`).join(',')
  if (keys(running) !== keys(next)) out.push('address/httpsAddr')
  if (running.process.adminAddress?.key !== next.process.adminAddress?.key) out.push('adminAddress')
  return out
}

/** A reload's new workers read the release's config; what only a new primary applies is said so. */
export function noteSettingsForRestart(log: Logger, running: ResolvedConfig, code: CodeServer[], releaseDir: string): void {
  try {
    const file = loadConfigFile(findConfigFile(process.env, releaseDir))
    const settings = needRestart(running, resolveConfig(code, process.env, file))
    if (settings.length > 0) log.warn({ settings, configFile: file.path }, 'config changed: a reload does not apply these settings; they take effect at the next restart')
  } catch (err) {
    log.warn({ code: (err as SmoothError).code }, `config of the release is invalid (new workers will say why): ${(err as Error).message}`)
  }
}

/** Listening sockets inherited for addresses this release no longer has: closed, and said. */
export function closeUnusedInherited(log: Logger, cfg: ResolvedConfig, inherited: Record<string, number>): void {
  const used = new Set<string>([...cfg.listeners.map((l) => l.key), ...(cfg.process.adminAddress ? [cfg.process.adminAddress.key] : [])])
  for (const [key, fd] of Object.entries(inherited)) {
    if (used.has(key)) continue
    try { closeSync(fd) } catch { /* not open */ }
    log.warn({ listener: key }, 'listen address no longer configured: closed (it stops answering once the previous generation has left)')
  }
}
