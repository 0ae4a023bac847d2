import { writeFileSync } from 'node:fs'
import type { Logger } from 'pino'
import { createLogger } from '../log.js'
import { env } from '../env.js'
import { EnvNames, SuccessorOnlyEnv } from '../wire.js'
import { SmoothError } from '../errors.js'
import type { Counters } from '../protocol.js'
import type { RuntimeHooks, Server } from '../server.js'
import { inheritedFds, boundPorts } from './listeners.js'
import { installSignals, type SignalActions } from './signals.js'
import { removePidFile } from './pidfile.js'
import { removeState } from './state-file.js'
import { Rollouts, type RolloutRecord } from './rollout.js'
import { recordLaunch, thisLaunch } from './launch.js'
import { buildInfo, registerBuildInfo } from './build-info.js'
import { AnchorLink } from './anchor-link.js'
import { PrimaryMetrics } from '../metrics/primary-metrics.js'
import { WorkerCounts } from '../metrics/worker-counts.js'
import { realOs } from './os.js'
import { timings } from './timings.js'
import type { Primary } from './context.js'
import { Upgrade } from './upgrade/state.js'
import { handleControl } from './admin-dispatch.js'
import { publishState } from './status.js'
import { startRollout, startScale } from './start-rollout.js'
import type { CanaryRequest } from './canary-request.js'
import { boot, type Birth } from './boot.js'

/**
 * The primary role: owns the listening sockets, forks the workers, decides when they accept and
 * drain, and runs rollouts (reload: new workers; restart: a new primary generation, upgrade/). This
 * file is its boot, its shutdown and the runtime hooks; the same entry script runs here, so the
 * user's start() calls arrive as `start(server)`; those made in the same tick are started together.
 */
export function createPrimaryRuntime(): RuntimeHooks {
  const log: Logger = createLogger('primary')
  const generation = env.generation()
  // A first primary without an anchor records where it was started; every later process starts there.
  recordLaunch()
  const launch = thisLaunch()
  const anchor = AnchorLink.connect(log)
  const failureFile = process.env[EnvNames.failureFile]
  const birth: Birth = {
    statusAddr: process.env[EnvNames.statusAddr], statusToken: process.env[EnvNames.statusToken],
    inherited: inheritedFds(), bound: boundPorts(), predecessor: undefined,
  }
  // A successor must not hand these to its own successor or workers by accident.
  for (const k of SuccessorOnlyEnv) delete process.env[k]
  let bootPromise: Promise<void> | undefined
  let stopping: Promise<void> | undefined
  let stopHook: (() => void) | undefined
  let doneResolve!: () => void
  const done = new Promise<void>((r) => (doneResolve = r))
  const metrics = new PrimaryMetrics(() => {
    const n: Record<string, number> = { starting: 0, ready: 0, draining: 0 }
    for (const w of p.pool?.live() ?? []) n[w.state] = (n[w.state] ?? 0) + 1
    return n
  })
  metrics.generation.set(generation)
  const build = buildInfo(launch, Number(process.env[EnvNames.anchorPid]) || undefined)
  registerBuildInfo(metrics.registry, build)
  const counters: Counters = { restarts: 0, reloads: 0, workerCrashes: 0, rolloutFailures: 0 }
  const p: Primary = {
    log, generation, launch, anchor, os: realOs, timings, started: [] as Server[],
    state: 'collecting',
    config: undefined as unknown as Primary['config'],
    listeners: [], pool: undefined, adminServer: undefined, adminSecret: undefined,
    // A shutdown is recorded once, as the primary's state: rollouts are refused from then on.
    rollouts: new Rollouts(() => p.state !== 'collecting' && p.state !== 'starting' && p.state !== 'serving'),
    upgrade: new Upgrade(),
    metrics,
    workerCounts: new WorkerCounts(async () => (await p.pool?.collectMetrics(p.rollouts.current ? timings.rolloutMetricsWaitMs : undefined)) ?? [], timings.peerMetricsWaitMs),
    counters, build, startedAt: Date.now(), lastRefused: null,
    stopRequested: () => stopping !== undefined,
    // One restart at a time: the hook of an earlier one (settled long ago) goes.
    onStop: (f) => { stopHook = f },
    publishState: () => publishState(p),
    fatal,
    openAdmin,
    shutdown,
    markDone: () => doneResolve(),
  }
  p.upgrade.onTransition = (name, from, to) => log.debug({ transition: name, from, to }, 'restart step')

  // Handle SIGUSR1 (and the rest) from the first moment: an unhandled SIGUSR1 starts the inspector.
  const onSignal: SignalActions = {
    shutdown: (signal) => void shutdown(`signal ${signal}`),
    restart: (signal) => void restart(undefined, `signal ${signal}`).catch(() => {}),
    reload: (signal) => void reload(`signal ${signal}`).catch(() => {}),
    scale: (change, signal) => {
      try {
        void startScale(p, change, `signal ${signal}`).done
      } catch (err) {
        log.warn({ signal, code: (err as SmoothError).code }, `scale refused: ${(err as Error).message}`)
      }
    },
  }
  installSignals(onSignal)

  function fatal(err: unknown): never {
    const e = err as SmoothError
    log.fatal({ code: e.code, err }, e.message)
    process.stderr.write(`smooth: ${e.code ? e.code + ': ' : ''}${e.message}\n`)
    if (failureFile) {
      // Same file the preload writes; whichever writes first wins.
      try { writeFileSync(failureFile, `${e.code ?? 'Error'}: ${e.message}`, { flag: 'wx' }) } catch { /* best effort */ }
    }
    birth.predecessor?.send({ t: 'failed', code: e.code ?? 'ERROR', message: e.message })
    for (const s of p.pool?.live() ?? []) s.kill('SIGKILL')
    // Inherited sockets are not closed here: our copies go with us, the predecessor keeps its own.
    process.exit(1)
  }

  /** Serves admin on its own address from this process (`fd`: inherited from the previous generation). */
  async function openAdmin(fd: number | undefined): Promise<void> {
    const spec = p.config.process.adminAddress!
    // Loaded only when an admin address is configured: a primary without one never loads Fastify.
    const { startAdminServer } = await import('../admin/server.js')
    p.adminServer = await startAdminServer({
      spec,
      fd,
      pattern: spec.server,
      credentials: p.adminSecret?.credentials,
      hosts: p.config.process.adminHosts,
      auth: p.started.find((s) => s.adminAuth)?.adminAuth,
      context: { control: (command, args) => handleControl(p, command, args) },
      log,
    })
  }

  // async: a refusal becomes a rejected promise, never a throw inside a signal handler.
  const reload = async (reason: string, canary?: CanaryRequest): Promise<RolloutRecord> => startRollout(p, 'reload', reason, undefined, {}, canary).done
  const restart = async (newExeFilePath: string | undefined, reason: string, canary?: CanaryRequest): Promise<RolloutRecord> =>
    startRollout(p, 'restart', reason, newExeFilePath, {}, canary).done

  function shutdown(reason: string): Promise<void> {
    if (stopping) {
      log.info({ reason }, 'already shutting down')
      return stopping
    }
    stopping = (async () => {
      // A restart in its handshake learns it at once (and never hands over).
      const hook = stopHook
      stopHook = undefined
      hook?.()
      await bootPromise?.catch(() => {})
      const wasRetiring = p.state === 'retiring'
      p.state = 'stopping'
      log.info({ reason }, 'server shutting down')
      const { pool, config } = p
      // A successor that is still starting is part of this tree: it shuts down gracefully too.
      const successor = wasRetiring ? undefined : p.upgrade.successor
      successor?.kill('SIGTERM')
      pool?.stopReplacing()
      const timeoutMs = config?.process.gracefulShutdownTimeoutMs ?? 30_000
      // Workers stop accepting as they get the drain message; with the primary's copies closed too,
      // the sockets close and new connections are refused. Accepted ones are finished.
      const drained = pool?.drainAll(timeoutMs) ?? Promise.resolve(0)
      for (const l of p.listeners) l.close()
      const forced = await drained
      await p.adminServer?.app.close()
      const margin = timeoutMs + timings.shutdownMarginMs
      if (successor) await Promise.race([successor.exited, p.os.sleep(margin)])
      // A restart that was starting its successor when the shutdown came: wait until it has unwound
      // (the successor told to stop and gone), so no process outlives this one.
      if (!wasRetiring) await Promise.race([p.upgrade.running?.catch(() => {}), p.os.sleep(margin)])
      if (config?.process.pidFile && (!anchor || anchor.gone)) removePidFile(config.process.pidFile)
      if (config?.process.pidFile && p.upgrade.state !== 'handedOver') removeState(config.process.pidFile)
      p.state = 'stopped'
      log.info({ forced }, 'all servers shutdown')
      doneResolve()
      // Let wait()ers run, then exit: the user's own timers must not keep a stopped server alive.
      setImmediate(() => process.exit(process.exitCode ?? 0))
    })()
    return stopping
  }

  return {
    start(server: Server): Promise<void> {
      if (p.state !== 'collecting') {
        return Promise.reject(new SmoothError('SMOOTH_ALREADY_STARTED', `${server.name} (start every server in the same tick)`))
      }
      p.started.push(server)
      bootPromise ??= new Promise<void>((r) => setImmediate(r)).then(() => boot(p, birth, onSignal))
      return bootPromise
    },
    shutdown: () => shutdown('api'),
    reload: (opts) => reload('api', opts?.canary),
    restart: (newExeFilePath, opts) => restart(newExeFilePath, 'api', opts?.canary),
    wait: () => done,
  }
}
