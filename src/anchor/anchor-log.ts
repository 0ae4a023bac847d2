import { writeSync } from 'node:fs'
import { env } from '../env.js'

/**
 * The anchor's logger: the same JSON lines as pino writes for the other roles (level number, ISO
 * time, pid, role, generation, the fields, msg), without loading pino. The anchor logs a handful of
 * lines in its life, and it runs for the server's whole life: 8 MiB of RSS for a logger is most of
 * what it would hold (issue 14: anchor ≤ 50 MiB).
 */
const LEVELS = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 } as const
type Level = keyof typeof LEVELS
type Fields = Record<string, unknown>

export interface AnchorLog {
  level: string
  debug(fields: Fields, msg: string): void
  info(fields: Fields, msg: string): void
  warn(fields: Fields, msg: string): void
  error(fields: Fields, msg: string): void
  fatal(fields: Fields, msg: string): void
}

export function createAnchorLog(level = process.env.SMOOTH_LOG_LEVEL ?? 'info'): AnchorLog {
  const base = { pid: process.pid, role: 'anchor', generation: env.generation() }
  const line = (at: Level) => (fields: Fields, msg: string): void => {
    if (LEVELS[at] < (LEVELS[log.level as Level] ?? LEVELS.info)) return
    const text = JSON.stringify({ level: LEVELS[at], time: new Date().toISOString(), ...base, ...fields, msg })
    // Synchronous, as pino's default destination: the anchor's last lines come just before it exits.
    try { writeSync(1, `${text}\n`) } catch { /* stdout closed: nothing to tell */ }
  }
  const log: AnchorLog = { level, debug: line('debug'), info: line('info'), warn: line('warn'), error: line('error'), fatal: line('fatal') }
  return log
}
