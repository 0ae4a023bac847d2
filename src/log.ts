import { createRequire } from 'node:module'
import { pino, type DestinationStream, type Logger } from 'pino'
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
  }, prettyStream())
  return root
}

/**
 * Human-readable lines when stdout is a terminal (JSON otherwise, or with SMOOTH_LOG_JSON=1). pino-pretty
 * runs in-process and synchronously (no transport thread per worker), loaded only when used.
 */
function prettyStream(): DestinationStream | undefined {
  if (!process.stdout.isTTY || process.env.SMOOTH_LOG_JSON === '1') return undefined
  const pretty = createRequire(import.meta.url)('pino-pretty') as (o: Record<string, unknown>) => DestinationStream
  return pretty({ sync: true, singleLine: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'hostname' })
}

export function logger(): Logger {
  return root ?? createLogger(env.role() ?? 'primary')
}

export function setLogLevel(level: string): void {
  logger().level = level
}
