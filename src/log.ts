import { pino, type Logger } from 'pino'
import { env } from './env.js'

/**
 * One pino logger per process. Every line carries pid (pino's default), the role of the process and
 * the generation it belongs to, so the log of a restart can be read by generation.
 */
export type Role = 'primary' | 'worker' | 'anchor'

let root: Logger | undefined

export function createLogger(role: Role, level = process.env.SMOOTH_LOG_LEVEL ?? 'info'): Logger {
  root = pino({
    level,
    base: { pid: process.pid, role, generation: env.generation() },
    timestamp: pino.stdTimeFunctions.isoTime,
  })
  return root
}

export function logger(): Logger {
  return root ?? createLogger(env.role() ?? 'primary')
}

export function setLogLevel(level: string): void {
  logger().level = level
}
