import type { Logger } from 'pino'
import { createLogger } from '../log.js'
import { env } from '../env.js'
import { SmoothError } from '../errors.js'
import { resolveConfig, loadTls, type ResolvedConfig } from '../config/resolve.js'
import { TAG, type ControlMessage } from '../protocol.js'
import type { RuntimeHooks, Server } from '../server.js'
import { bindAll, inheritedFds, type Listener } from './listeners.js'
import { WorkerPool, type WorkerSlot } from './workers.js'
import { installSignals } from './signals.js'
import { writePidFile, removePidFile } from './pidfile.js'

const WORKER_READY_TIMEOUT_MS = 60_000

type PrimaryState = 'collecting' | 'starting' | 'serving' | 'stopping' | 'stopped'

/**
 * The primary role: owns the listening sockets, forks the workers, hands them connections, and
 * decides when they drain. The same entry script runs here, so the user's start() calls arrive as
 * `start(server)`; those made in the same tick are started together.
 */
export function createPrimaryRuntime(): RuntimeHooks {
  const log: Logger = createLogger('primary')
  const generation = env.generation()
  const started: Server[] = []
  let state: PrimaryState = 'collecting'
  let config: ResolvedConfig | undefined
  let listeners: Listener[] = []
  let pool: WorkerPool | undefined
  let bootPromise: Promise<void> | undefined
  let stopping: Promise<void> | undefined
  const startedAt = Date.now()
  let doneResolve!: () => void
  const done = new Promise<void>((r) => (doneResolve = r))

  // Handle SIGUSR1 (and the rest) from the first moment: an unhandled SIGUSR1 starts the inspector.
  installSignals({
    shutdown: (signal) => void shutdown(`signal ${signal}`),
    restart: (signal) => log.warn({ signal }, refusal('restart').message),
    reload: (signal) => log.warn({ signal }, refusal('reload').message),
  })

  function refusal(what: string): SmoothError {
    if (!config?.process.graceful) return new SmoothError('SMOOTH_GRACEFUL_DISABLED')
    return new SmoothError('SMOOTH_NOT_IMPLEMENTED', what)
  }

  function fatal(err: unknown): never {
    const e = err as SmoothError
    log.fatal({ code: e.code, err }, e.message)
    process.stderr.write(`smooth: ${e.code ? e.code + ': ' : ''}${e.message}\n`)
    for (const l of listeners) l.handle.close()
    for (const s of pool?.live() ?? []) s.worker.process.kill('SIGKILL')
    process.exit(1)
  }

  async function boot(): Promise<void> {
    state = 'starting'
    try {
      config = resolveConfig(started.map((s) => ({ name: s.name, settings: s.settings })))
      log.level = config.process.logLevel
      for (const s of config.servers) if (s.tls) loadTls(s.tls)
      if (config.process.pidFile) writePidFile(config.process.pidFile)
      listeners = await bindAll(config.listeners, inheritedFds())
    } catch (err) {
      fatal(err)
    }
    for (const l of listeners) {
      log.info({ server: l.spec.server, address: l.display, port: l.port }, `${l.spec.protocol} server started listening on [${l.display}]`)
    }
    for (const s of config.servers) {
      if (s.adminPattern && !config.process.adminToken) {
        log.warn({ server: s.name, pattern: s.adminPattern }, 'admin has no token: it answers loopback clients only')
      }
    }
    pool = new WorkerPool({
      size: config.process.workers,
      servers: config.servers.map((s) => s.name),
      listeners: config.listeners.map((l) => ({ index: l.index, server: l.server, protocol: l.protocol })),
      generation,
      readyTimeoutMs: WORKER_READY_TIMEOUT_MS,
      log,
      handles: listeners.map((l) => l.handle),
      onControl: (msg, from) => void control(msg, from),
    })
    try {
      await pool.startAll()
    } catch (err) {
      fatal(new SmoothError('SMOOTH_WORKERS_NEVER_READY', (err as Error).message))
    }
    if (state === 'starting') state = 'serving'
    log.info({ workers: pool.live().length }, 'server ready')
  }

  function status(): Record<string, unknown> {
    return {
      pid: process.pid,
      generation,
      state,
      uptimeMs: Date.now() - startedAt,
      graceful: config?.process.graceful ?? false,
      servers: config?.servers.map((s) => ({
        name: s.name,
        listeners: s.listeners.map((spec) => {
          const bound = listeners.find((l) => l.spec.index === spec.index)
          return { protocol: spec.protocol, address: bound?.display ?? spec.text, port: bound?.port }
        }),
      })) ?? [],
      workers: [...(pool?.slots.values() ?? [])].map((w) => ({
        id: w.id, pid: w.pid, state: w.state, startedAt: w.startedAt, readyAt: w.readyAt,
      })),
      workerCrashes: pool?.crashes ?? 0,
    }
  }

  async function control(msg: ControlMessage, from: WorkerSlot): Promise<void> {
    const reply = (status: number, body: unknown): void =>
      from.send({ smooth: TAG, act: 'controlReply', id: msg.id, ok: status < 400, status, body })
    switch (msg.command) {
      case 'status':
        return reply(200, status())
      case 'shutdown':
        reply(200, { message: 'server shutdown' })
        void shutdown('admin')
        return
      case 'reload':
      case 'restart': {
        const err = refusal(msg.command)
        return reply(err.code === 'SMOOTH_GRACEFUL_DISABLED' ? 409 : 501, { error: err.message, code: err.code })
      }
    }
  }

  function shutdown(reason: string): Promise<void> {
    if (stopping) {
      log.info({ reason }, 'already shutting down')
      return stopping
    }
    stopping = (async () => {
      await bootPromise?.catch(() => {})
      state = 'stopping'
      log.info({ reason }, 'server shutting down')
      pool?.stopReplacing()
      const timeoutMs = config?.process.gracefulShutdownTimeoutMs ?? 30_000
      // Workers stop accepting as they get the drain message; with the primary's copies closed too,
      // the sockets close and new connections are refused. Accepted ones are finished.
      const drained = pool?.drainAll(timeoutMs) ?? Promise.resolve(0)
      for (const l of listeners) l.handle.close()
      const forced = await drained
      if (config?.process.pidFile) removePidFile(config.process.pidFile)
      state = 'stopped'
      log.info({ forced }, 'all servers shutdown')
      doneResolve()
      // Let wait()ers run, then exit: the user's own timers must not keep a stopped server alive.
      setImmediate(() => process.exit(process.exitCode ?? 0))
    })()
    return stopping
  }

  return {
    start(server: Server): Promise<void> {
      if (state !== 'collecting') {
        return Promise.reject(new SmoothError('SMOOTH_ALREADY_STARTED', `${server.name} (start every server in the same tick)`))
      }
      started.push(server)
      bootPromise ??= new Promise<void>((r) => setImmediate(r)).then(boot)
      return bootPromise
    },
    shutdown: () => shutdown('api'),
    reload: () => Promise.reject(refusal('reload')),
    restart: () => Promise.reject(refusal('restart')),
    wait: () => done,
  }
}
