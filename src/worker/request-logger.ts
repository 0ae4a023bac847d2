import type { FastifyBaseLogger } from 'fastify'
import type { Logger, Bindings, ChildLoggerOptions } from 'pino'

type Level = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace'

/**
 * Fastify gives every request a child logger bound to its request id. Making a pino child per request
 * cost a hello-world about 7 % of its throughput, and most requests never log: this one makes the
 * child on the first line actually written at an enabled level.
 */
class LazyRequestLogger {
  private real: Logger | undefined
  constructor(private readonly parent: Logger, private readonly bindings: Bindings, private readonly opts: ChildLoggerOptions) {}

  private get log(): Logger {
    this.real ??= this.parent.child(this.bindings, this.opts)
    return this.real
  }

  get level(): string {
    return this.real?.level ?? this.parent.level
  }
  set level(level: string) {
    this.log.level = level
  }

  child(bindings: Bindings, opts?: ChildLoggerOptions): Logger {
    return this.log.child(bindings, opts)
  }

  private write(level: Level, args: unknown[]): void {
    if (!(this.real ?? this.parent).isLevelEnabled(level)) return
    ;(this.log[level] as (...a: unknown[]) => void)(...args)
  }

  fatal(...args: unknown[]): void { this.write('fatal', args) }
  error(...args: unknown[]): void { this.write('error', args) }
  warn(...args: unknown[]): void { this.write('warn', args) }
  info(...args: unknown[]): void { this.write('info', args) }
  debug(...args: unknown[]): void { this.write('debug', args) }
  trace(...args: unknown[]): void { this.write('trace', args) }
  silent(): void {}
}

export function lazyChildLoggerFactory(logger: FastifyBaseLogger, bindings: Bindings, opts: ChildLoggerOptions): FastifyBaseLogger {
  return new LazyRequestLogger(logger as unknown as Logger, bindings, opts) as unknown as FastifyBaseLogger
}
