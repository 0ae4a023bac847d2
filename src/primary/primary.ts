import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { setTimeout as delay } from 'node:timers/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import type { Logger } from 'pino'
import type { FastifyInstance } from 'fastify'
import { createLogger } from '../log.js'
import { env, EnvNames } from '../env.js'
import { SmoothError } from '../errors.js'
import { rollbackReason, successorFailure } from './rollback-reason.js'
import { resolveConfig, loadTls, type ResolvedConfig } from '../config/resolve.js'
import { closeUnusedInherited, noteSettingsForRestart } from './config-changes.js'
import { TAG, type ControlCommand, type ControlMessage, type Counters, type PredecessorFrame, type SuccessorFrame } from '../protocol.js'
import type { RuntimeHooks, Server } from '../server.js'
import { bindAll, inheritedFds, boundPorts, InheritEnv, BoundPortsEnv, type Listener, type RawHandle } from './listeners.js'
import { WorkerPool, type WorkerSlot } from './workers.js'
import { Watchdog, workerView } from './watchdog.js'
import { Recycler } from './recycle.js'
import { installSignals, dispatchSignal, type SignalActions } from './signals.js'
import { writePidFile, removePidFile } from './pidfile.js'
import { writeState, removeState, type ServerState } from './state-file.js'
import { Rollouts, type RolloutRecord } from './rollout.js'
import { rollingReload } from './reload.js'
import { scaleTarget, scaleTo } from './scale.js'
import { envName } from '../config/keys.js'
import { planLaunch, spawnGeneration, type LaunchPlan } from './successor.js'
import { recordLaunch, startDir, thisLaunch } from './launch.js'
import { buildInfo, registerBuildInfo } from './build-info.js'
import { StatusServer, connectStatus, type StatusClient } from './status-channel.js'
import { AnchorLink, type Generation } from './anchor-link.js'
import { notifySystemd } from './systemd.js'
import { checkAllowed } from '../admin/allow-list.js'
import { AdminSecret } from './admin-secret.js'
import { warnAboutAdmin } from './admin-warning.js'
import { PrimaryMetrics, aggregate, type CarriedCounters } from '../metrics/primary-metrics.js'
import { WorkerCounts } from '../metrics/worker-counts.js'

const SUCCESSOR_HELLO_TIMEOUT_MS = 15_000
const HANDOVER_TIMEOUT_MS = 10_000
/** How long a successor is watched (a worker dying, the process exiting) before the handover, counted
 * from its first worker accepting (its workers serve real connections all that time); and at least
 * WORKER_SETTLE_MS after it says ready, as a new worker must stay up before it gets connections. */
const SETTLE_MS = 1_000
/** How long a worker started by a rollout must stay up after ready before it gets connections. */
const WORKER_SETTLE_MS = 300
/** How long a rolled-back full restart keeps trying to bind its ports again. */
const REBIND_FOR_MS = 60_000
/** How long a scrape waits for the other generation's counters during a restart. */
// Above the 500 ms the other side waits for its own workers: its answer is fresh when it can be.
const PEER_METRICS_WAIT_MS = 600

/** A wait=1 admin request served by a worker: that worker is drained last and answers first. */
interface RequesterHooks {
  requester?: WorkerSlot
  beforeRequesterDrains?: (rec: RolloutRecord) => void
}

type PrimaryState = 'collecting' | 'starting' | 'serving' | 'retiring' | 'stopping' | 'stopped'

/**
 * The primary role: owns the listening sockets, forks the workers, decides when they accept and
 * drain, and runs rollouts (reload: new workers; restart: a new primary generation). The same entry
 * script runs here, so the user's start() calls arrive as `start(server)`; those made in the same tick
 * are started together.
 */
export function createPrimaryRuntime(): RuntimeHooks {
  const log: Logger = createLogger('primary')
  const generation = env.generation()
  // A first primary without an anchor records where it was started; every later process starts there.
  recordLaunch()
  const launch = thisLaunch()
  const anchor = AnchorLink.connect(log)
  const statusAddr = process.env[EnvNames.statusAddr]
  const statusToken = process.env[EnvNames.statusToken]
  const failureFile = process.env[EnvNames.failureFile]
  const inherited = inheritedFds()
  const bound = boundPorts()
  // A successor must not hand these to its own successor or workers by accident.
  for (const k of [EnvNames.statusAddr, EnvNames.statusToken, EnvNames.failureFile, InheritEnv, BoundPortsEnv]) delete process.env[k]
  const started: Server[] = []
  let state: PrimaryState = 'collecting'
  let config: ResolvedConfig | undefined
  let listeners: Listener[] = []
  let pool: WorkerPool | undefined
  let bootPromise: Promise<void> | undefined
  let stopping: Promise<void> | undefined
  let successor: Generation | undefined
  let predecessor: StatusClient | undefined
  let adminServer: { app: FastifyInstance; fd: number; port: number } | undefined
  let adminSecret: AdminSecret | undefined
  /** A restart's handover while it runs: a shutdown waits for it to unwind (it never completes then). */
  let handingOver: Promise<void> | undefined
  const stopRequested = (): boolean => stopping !== undefined
  const rollouts = new Rollouts()
  /** Called when a shutdown starts (a handshake in progress fails at once). */
  const onStop: Array<() => void> = []
  /** Once the successor is live, it alone speaks for the server (the state file). */
  let handedOver = false
  let lastRefused: ServerState['refused'] = null
  const metrics = new PrimaryMetrics(() => {
    const n: Record<string, number> = { starting: 0, ready: 0, draining: 0 }
    for (const w of pool?.live() ?? []) n[w.state] = (n[w.state] ?? 0) + 1
    return n
  })
  metrics.generation.set(generation)
  const build = buildInfo(launch, Number(process.env[EnvNames.anchorPid]) || undefined)
  registerBuildInfo(metrics.registry, build)
  const workerCounts = new WorkerCounts(async () => (await pool?.collectMetrics()) ?? [], PEER_METRICS_WAIT_MS)
  const counters: Counters = { restarts: 0, reloads: 0, workerCrashes: 0, rolloutFailures: 0 }
  const startedAt = Date.now()
  let doneResolve!: () => void
  const done = new Promise<void>((r) => (doneResolve = r))

  // Handle SIGUSR1 (and the rest) from the first moment: an unhandled SIGUSR1 starts the inspector.
  const onSignal: SignalActions = {
    shutdown: (signal) => void shutdown(`signal ${signal}`),
    restart: (signal) => void restart(undefined, `signal ${signal}`).catch(() => {}),
    reload: (signal) => void reload(`signal ${signal}`).catch(() => {}),
    scale: (change, signal) => {
      try {
        void startScale(change, `signal ${signal}`).done
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
      try { writeFailure(failureFile, `${e.code ?? 'Error'}: ${e.message}`) } catch { /* best effort */ }
    }
    predecessor?.send({ t: 'failed', code: e.code ?? 'ERROR', message: e.message })
    for (const s of pool?.live() ?? []) s.worker.process.kill('SIGKILL')
    // Inherited sockets are not closed here: our copies go with us, the predecessor keeps its own.
    process.exit(1)
  }

  async function boot(): Promise<void> {
    state = 'starting'
    try {
      config = resolveConfig(started.map((s) => ({ name: s.name, settings: s.settings })))
      log.level = config.process.logLevel
      for (const s of config.servers) if (s.tls) loadTls(s.tls)
      if (config.process.pidFile && !statusAddr) writePidFile(config.process.pidFile, anchor ? anchorPid() : process.pid)
      if (!statusAddr && anchor) {
        anchor.config(config.process.pidFile, config.process.logLevel)
        // The pid file in effect, as the anchor now has it: successors compare theirs with it.
        process.env[EnvNames.anchorPidFile] = config.process.pidFile ?? ''
      }
      listeners = await bindAll(config.listeners.map((l) => ({ ...l, port: bound[l.key] ?? l.port })), inherited)
      closeUnusedInherited(log, config, inherited)
      if (statusAddr && statusToken) {
        try {
          predecessor = await connectStatus(statusAddr, statusToken, { pid: process.pid, generation })
        } catch (err) {
          // The previous generation died before we could talk to it: we hold its sockets, so serve.
          log.error({ err: (err as NodeJS.ErrnoException).code ?? (err as Error).message }, 'the previous generation is gone: starting on our own')
        }
      }
    } catch (err) {
      fatal(err)
    }
    // Before any worker is forked: they inherit the environment this takes the token out of.
    adminSecret = new AdminSecret(config.process.adminToken)
    warnAboutAdmin(config, log)
    anchor?.onGone(() => anchorGone())
    const anchorPidFile = process.env[EnvNames.anchorPidFile] ?? ''
    if (anchor && (config.process.pidFile ?? '') !== anchorPidFile) {
      log.warn({ pidFile: config.process.pidFile ?? null, inEffect: anchorPidFile || null }, 'pidFile changed: it takes effect only after a full stop (the anchor writes it)')
    }
    pool = new WorkerPool({
      size: config.process.workers,
      servers: config.servers.map((s) => s.name),
      listeners: config.listeners.map((l) => ({ index: l.index, server: l.server, protocol: l.protocol })),
      generation,
      readyTimeoutMs: config.process.readyTimeoutMs,
      log,
      launch,
      handles: listeners.map((l) => l.handle),
      onControl: (msg, from) => void control(msg, from).catch((err: unknown) => log.error({ err }, 'control request failed')),
    })
    pool.on('exit', (slot: WorkerSlot) => { if (slot.crashed && !slot.killedFor) metrics.crash() })
    pool.on('signal', (slot: WorkerSlot, signal: string) => {
      // Ctrl-C reaches every process of the group: a shutdown already under way needs no echo.
      if (stopping && !['SIGUSR1', 'SIGUSR2'].includes(signal)) return
      log.info({ signal, workerPid: slot.pid }, 'signal forwarded by a worker')
      dispatchSignal(onSignal, signal)
    })
    pool.on('counts', (_slot: WorkerSlot, final: unknown) => workerCounts.workerGone(final))
    pool.on('drained', (slot: WorkerSlot, ms: number) => {
      metrics.drainDuration.observe(ms / 1000)
      metrics.forced(slot.forced)
    })
    watchWorkers(pool, config)
    try {
      if (predecessor) await startAfterPredecessor(predecessor)
      else await pool.startAll()
    } catch (err) {
      fatal(new SmoothError('SMOOTH_WORKERS_NEVER_READY', (err as Error).message))
    }
    if (config.process.adminAddress) {
      try {
        await openAdmin(inherited[config.process.adminAddress.key])
      } catch (err) {
        fatal(new SmoothError('SMOOTH_LISTEN_FAILED', `adminAddress ${config.process.adminAddress.text}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`))
      }
    }
    const verb = predecessor ? 'restarted' : 'started'
    for (const l of listeners) {
      log.info({ server: l.spec.server, address: l.display, port: l.port }, `${l.spec.protocol} server ${verb} listening on [${l.display}]`)
    }
    if (state === 'starting') state = 'serving'
    // A successor whose predecessor died before the handshake is the one serving now: it says so too.
    if (statusAddr && config.process.pidFile && !anchor) {
      try {
        writePidFile(config.process.pidFile)
      } catch (err) {
        // We already serve and the old generation is leaving: losing the service over a pid file
        // (disk full, directory gone) would be worse. Say it loudly; systemd's NOTIFY_SOCKET has MAINPID.
        log.error({ code: (err as SmoothError).code }, `cannot rewrite the pid file: ${(err as Error).message}`)
      }
    }
    if (!anchor) notifySystemd(log, { READY: 1, MAINPID: process.pid })
    // Which version runs, and the pid to signal (the anchor's when there is one: it outlives restarts).
    log.info({ workers: pool.live().length, entry: build.entry, entryResolved: build.entryResolved, startedWith: build.startedWith,
      version: build.version, node: build.node, signalPid: build.signalPid }, 'server ready')
    publishState()
  }

  /** Hung workers are killed (workerTimeout); workers over a limit are recycled (maxWorker*). */
  function watchWorkers(pool: WorkerPool, config: ResolvedConfig): void {
    const watchdog = new Watchdog(pool, config.process.workerTimeoutMs, log)
    watchdog.on('timeout', () => metrics.timeout())
    watchdog.start()
    // under-pressure's memory limits are per server; the workers run every server: the lowest counts.
    const lowest = (pick: (s: ResolvedConfig['servers'][number]) => number | undefined): number => {
      const set = config.servers.map(pick).filter((v): v is number => v !== undefined && v > 0)
      return set.length > 0 ? Math.min(...set) : 0
    }
    const limits = {
      rssBytes: config.process.maxWorkerMemory,
      pressureRssBytes: lowest((s) => s.underPressure.maxRssBytes),
      pressureHeapBytes: lowest((s) => s.underPressure.maxHeapUsedBytes),
      requests: config.process.maxWorkerRequests,
      ageMs: config.process.maxWorkerAgeMs,
    }
    if (!Recycler.needed(limits)) return
    const recycler = new Recycler(pool, {
      limits, log, settleMs: WORKER_SETTLE_MS,
      readyTimeoutMs: config.process.readyTimeoutMs,
      gracefulTimeoutMs: config.process.gracefulTimeoutMs,
      canRun: () => state === 'serving' && !rollouts.current && !successor,
    })
    recycler.on('recycled', (reason: string) => metrics.recycled(reason))
    recycler.start()
  }

  /**
   * Successor start-up: one worker at a time, and the previous generation retires one of its workers
   * for each of ours that accepts, so both together never run more than N + surge workers.
   */
  async function startAfterPredecessor(channel: StatusClient): Promise<void> {
    const frames: PredecessorFrame[] = []
    // Every waiter is woken by a frame (the lanes below wait side by side).
    const waiters = new Set<() => void>()
    const wake = (): void => { for (const w of waiters) w(); waiters.clear() }
    workerCounts.connect((f) => channel.send(f))
    channel.on('frame', (f: PredecessorFrame) => {
      if (workerCounts.onFrame(f)) return
      // From here on the old generation's counts are ours to carry.
      if (f.t === 'handover') workerCounts.tookOver(f.metrics)
      frames.push(f)
      wake()
    })
    channel.on('close', () => {
      workerCounts.lost()
      wake()
    })
    const next = async (t: PredecessorFrame['t'], timeoutMs: number): Promise<PredecessorFrame | undefined> => {
      const deadline = Date.now() + timeoutMs
      for (;;) {
        const i = frames.findIndex((f) => f.t === t)
        if (i >= 0) return frames.splice(i, 1)[0]
        // The previous generation is gone: nothing to wait for any more.
        if (channel.closed || Date.now() > deadline) return undefined
        await Promise.race([new Promise<void>((r) => waiters.add(r)), grace(Math.max(0, deadline - Date.now()))])
      }
    }
    const reportDeath = (slot: WorkerSlot): void => {
      if (slot.crashed && !channel.closed) channel.send({ t: 'workerDied', workerPid: slot.pid, code: slot.exitCode })
    }
    pool!.on('exit', reportDeath)
    const welcome = await next('welcome', HANDOVER_TIMEOUT_MS)
    if (welcome?.t === 'welcome') {
      Object.assign(counters, welcome.counters)
      if (welcome.counters.metrics) metrics.seed(welcome.counters.metrics as CarriedCounters)
      rollouts.adopt(welcome.history as RolloutRecord[], welcome.restart as RolloutRecord | undefined)
    }
    counters.restarts++
    // `surge` lanes side by side, each starting one worker and waiting for an old one to retire
    // before its next: both generations together never run more than N + surge workers.
    let toStart = pool!.size
    let readyCount = 0
    const lane = async (): Promise<void> => {
      while (toStart > 0) {
        // Told to stop while starting (the old generation was told first): no more workers.
        if (stopRequested()) return
        toStart--
        const slot = pool!.fork(WORKER_SETTLE_MS)
        await pool!.whenAccepting(slot, config!.process.readyTimeoutMs)
        channel.send({ t: 'workerReady', workerPid: slot.pid })
        if (rollouts.current) {
          rollouts.current.progress.done = ++readyCount
          rollouts.current.progress.step = `new worker ${slot.pid} ready; an old one retires`
        }
        await next('retired', config!.process.gracefulTimeoutMs + 15_000)
      }
    }
    await Promise.all(Array.from({ length: Math.min(config!.process.surge, pool!.size) }, lane))
    if (stopRequested()) return
    channel.send({ t: 'ready' })
    await next('handover', HANDOVER_TIMEOUT_MS + SETTLE_MS)
    const restart = rollouts.current
    if (restart) {
      restart.progress.done = restart.progress.total
      restart.progress.step = 'handed over'
      rollouts.finish(restart)
      metrics.rollout('restart', 'success', (restart.durationMs ?? 0) / 1000)
    }
    pool!.off('exit', reportDeath)
    channel.close()
  }

  /**
   * The anchor died: signals now come to this pid. The live primary says so in the pid file (the
   * anchor's pid may be given to another process by the OS); restarts spawn directly from here on.
   */
  function anchorGone(): void {
    const pidFile = config?.process.pidFile
    if (!pidFile || state === 'retiring' || state === 'stopping' || state === 'stopped') return
    try {
      writePidFile(pidFile)
      log.warn({ pidFile }, 'the anchor is gone: the pid file now names this primary')
    } catch (err) {
      log.error({ code: (err as SmoothError).code }, `cannot rewrite the pid file: ${(err as Error).message}`)
    }
  }

  function status(): Record<string, unknown> {
    return {
      pid: process.pid,
      anchorPid: anchor?.gone ? null : Number(process.env[EnvNames.anchorPid]) || null,
      // 'gone': the anchor died; signals go to this pid (the pid file says so), restarts spawn directly.
      anchor: anchor?.gone || process.env[EnvNames.anchorGone] === '1' ? 'gone' : anchor ? 'alive' : 'none',
      generation,
      state,
      uptimeMs: Date.now() - startedAt,
      build,
      graceful: config?.process.graceful ?? false,
      servers: config?.servers.map((s) => ({
        name: s.name,
        listeners: s.listeners.map((spec) => {
          const bound = listeners.find((l) => l.spec.index === spec.index)
          return { protocol: spec.protocol, address: bound?.display ?? spec.text, port: bound?.port }
        }),
      })) ?? [],
      workers: [...(pool?.slots.values() ?? [])].map(workerView),
      workersWanted: pool?.size ?? 0,
      admin: adminServer ? { address: adminServer.port } : null,
      rollout: rollouts.current ?? null,
      rollouts: rollouts.history,
      counters: { ...counters, workerCrashes: counters.workerCrashes + (pool?.crashes ?? 0), workerTimeouts: pool?.timeouts ?? 0 },
    }
  }

  /** The live generation's state next to the pid file, for `smooth --pid-file` (state-file.ts). */
  function publishState(): void {
    const pidFile = config?.process.pidFile
    if (!pidFile || handedOver) return
    writeState(pidFile, {
      pid: process.pid, generation, state, rollout: rollouts.current ?? null, rollouts: rollouts.history.slice(0, 5), refused: lastRefused,
      build: { entry: build.entry, entryResolved: build.entryResolved, version: build.version, node: build.node },
    })
  }

  /** Refuses what cannot run now; returns the rollout record otherwise. */
  function beginRollout(kind: 'reload' | 'restart', reason: string): RolloutRecord {
    if (!config?.process.graceful) throw new SmoothError('SMOOTH_GRACEFUL_DISABLED')
    if (state !== 'serving') throw new SmoothError(state === 'starting' || state === 'collecting' ? 'SMOOTH_ROLLOUT_IN_PROGRESS' : 'SMOOTH_SHUTTING_DOWN', 'start-up')
    const rec = rollouts.begin(kind, pool!.size)
    log.info({ kind, reason, rollout: rec.id }, kind === 'restart' ? 'server reloading' : 'workers reloading')
    publishState()
    return rec
  }

  /**
   * Starts a rollout and returns its record at once (the admin answers 202 with it); `done` settles
   * when it has finished. Refusals (graceful off, another rollout running, a bad path) throw here,
   * before anything changes.
   */
  function startRollout(kind: 'reload' | 'restart', reason: string, newExeFilePath?: string, hooks: RequesterHooks = {}): { rec: RolloutRecord; done: Promise<RolloutRecord> } {
    let rec: RolloutRecord
    let plan: LaunchPlan | undefined
    try {
      if (kind === 'restart') plan = planLaunch(newExeFilePath)
      rec = beginRollout(kind, reason)
    } catch (err) {
      log.warn({ reason, code: (err as SmoothError).code }, `${kind} refused: ${(err as Error).message}`)
      lastRefused = { kind, code: (err as SmoothError).code ?? 'ERROR', message: (err as Error).message, at: Date.now() }
      publishState()
      throw err
    }
    if (kind === 'reload') noteSettingsForRestart(log, config!, started.map((s) => ({ name: s.name, settings: s.settings })), startDir(launch))
    const run = plan
      ? handOver(plan, rec, hooks).then(() => {
        counters.restarts++
        setImmediate(() => void retire())
      })
      : rollingReload(pool!, rec, { surge: config!.process.surge, readyTimeoutMs: config!.process.readyTimeoutMs, gracefulTimeoutMs: config!.process.gracefulTimeoutMs, settleMs: WORKER_SETTLE_MS, log, ...hooks })
        .then(() => { counters.reloads++ })
    const done = run.then(() => {
      rollouts.finish(rec)
      publishState()
      metrics.rollout(kind, 'success', (rec.durationMs ?? 0) / 1000)
      log.info({ rollout: rec.id, kind, durationMs: rec.durationMs }, kind === 'reload' ? 'workers reloaded' : 'server restarted')
      return rec
    }, (err: unknown) => {
      counters.rolloutFailures++
      rollouts.finish(rec, err)
      publishState()
      metrics.rollout(kind, 'failure', (rec.durationMs ?? 0) / 1000)
      log.error({ rollout: rec.id, kind, code: (err as SmoothError).code }, `${kind === 'restart' ? 'server restarts' : 'reload'} failed: ${(err as Error).message}`)
      if (state === 'serving') {
        // A full restart had let go of the ports: take them back; otherwise refill what was retired.
        if (listeners.length > 0 && listeners.every((l) => l.closed)) void resumeAfterFullRestart()
        else pool!.refill()
      }
      throw err
    })
    done.catch(() => {})
    return { rec, done }
  }

  /** Changes the worker count (smooth scale, the admin's scale, SIGTTIN/SIGTTOU); one rollout at a time. */
  function startScale(spec: string | undefined, reason: string, keep?: WorkerSlot): { rec: RolloutRecord; done: Promise<RolloutRecord> } {
    if (state !== 'serving') throw new SmoothError(state === 'starting' || state === 'collecting' ? 'SMOOTH_ROLLOUT_IN_PROGRESS' : 'SMOOTH_SHUTTING_DOWN', 'start-up')
    const target = scaleTarget(spec, pool!.size)
    const rec = rollouts.begin('scale', Math.abs(target - pool!.size))
    log.info({ reason, rollout: rec.id, from: pool!.size, to: target }, 'workers scaling')
    const done = scaleTo(pool!, target, rec, { readyTimeoutMs: config!.process.readyTimeoutMs, gracefulTimeoutMs: config!.process.gracefulTimeoutMs, settleMs: WORKER_SETTLE_MS, log, keep })
      .then(() => {
        rollouts.finish(rec)
        metrics.rollout('scale', 'success', (rec.durationMs ?? 0) / 1000)
        return rec
      }, (err: unknown) => {
        counters.rolloutFailures++
        rollouts.finish(rec, err)
        metrics.rollout('scale', 'failure', (rec.durationMs ?? 0) / 1000)
        log.error({ rollout: rec.id, code: (err as SmoothError).code }, `scale failed: ${(err as Error).message}`)
        throw err
      })
    done.catch(() => {})
    return { rec, done }
  }

  // async: a refusal becomes a rejected promise, never a throw inside a signal handler.
  const reload = async (reason: string): Promise<RolloutRecord> => startRollout('reload', reason).done
  const restart = async (newExeFilePath: string | undefined, reason: string): Promise<RolloutRecord> =>
    startRollout('restart', reason, newExeFilePath).done

  /** Starts the successor and walks it through the status-channel handshake; throws on any failure. */
  function handOver(plan: LaunchPlan, rec: RolloutRecord, hooks: RequesterHooks): Promise<void> {
    handingOver = handOverSteps(plan, rec, hooks)
    return handingOver
  }

  /** Throws once a shutdown has started: it wins over a restart at every step. */
  function checkNotStopping(): void {
    if (stopRequested()) throw new SmoothError('SMOOTH_SHUTTING_DOWN')
  }

  async function handOverSteps(plan: LaunchPlan, rec: RolloutRecord, hooks: RequesterHooks): Promise<void> {
    const channel = new StatusServer(log)
    channel.on('refused', () => metrics.refused())
    channel.on('hello', () => workerCounts.connect((f) => channel.send(f)))
    channel.on('frame', (f: SuccessorFrame) => workerCounts.onFrame(f))
    const address = await channel.open()
    const failure = join(tmpdir(), `smooth-failure-${process.pid}-${randomBytes(6).toString('hex')}`)
    const full = config!.process.fullRestart
    const adminSpec = config!.process.adminAddress
    const passed: Array<{ key: string; fd: number; handle?: RawHandle }> = full ? [] : [
      ...listeners.map((l) => ({ key: l.spec.key, fd: l.handle.fd, handle: l.handle })),
      ...(adminServer && adminSpec ? [{ key: adminSpec.key, fd: adminServer.fd }] : []),
    ]
    const childEnv: Record<string, string> = {
      ...(process.env as Record<string, string>),
      [EnvNames.role]: 'primary',
      [EnvNames.generation]: String(generation + 1),
      [EnvNames.statusAddr]: address,
      [EnvNames.statusToken]: channel.token,
      [EnvNames.failureFile]: failure,
      ...adminSecret?.forSuccessor(),
    }
    delete childEnv[EnvNames.adminVerifier]
    // A scaled pool stays scaled across the restart.
    if (pool && pool.size !== config!.process.workers) childEnv[envName('workers')] = String(pool.size)
    if (!full) childEnv[InheritEnv] = JSON.stringify(Object.fromEntries(passed.map((l, i) => [l.key, 3 + i])))
    // The successor binds the ports the way they are bound now (a port 0 became a real port).
    if (full) childEnv[BoundPortsEnv] = JSON.stringify(Object.fromEntries(listeners.map((l) => [l.spec.key, l.port])))
    let child: Generation | undefined
    try {
      rec.progress.step = `starting ${plan.target}`
      checkNotStopping()
      if (anchor && !anchor.gone) {
        if (full) await stopServingForFullRestart(rec)
        child = await anchor.spawn(plan.command, plan.args, startDir(plan.launch), childEnv, passed.map((l) => ({ key: l.key, handle: l.handle ?? adminHandle() })))
      } else {
        if (full) await stopServingForFullRestart(rec)
        // Without an anchor (none, or it died), this process starts the successor itself.
        if (anchor) {
          delete childEnv[EnvNames.anchorPid]
          childEnv[EnvNames.anchorGone] = '1'
        }
        const proc = spawnGeneration(plan.command, plan.args, passed.map((l) => l.fd), childEnv, false, startDir(plan.launch))
        const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => {
          proc.once('exit', (code, signal) => resolve({ code, signal }))
          proc.once('error', () => resolve({ code: null, signal: null }))
        })
        if (!proc.pid) throw new SmoothError('SMOOTH_SUCCESSOR_SPAWN_FAILED', plan.target, 'no process was created')
        child = { pid: proc.pid, exited, kill: (sig) => { proc.kill(sig) } }
      }
      successor = child
      log.info({ successor: child.pid, target: plan.target, generation: generation + 1, statusChannel: address }, 'successor started')
      checkNotStopping()
      await handshake(channel, child, rec, hooks)
      // Every worker of ours has drained by now (each retired before the next new one started).
      const counts = await workerCounts.handOver()
      // The last check: after it, nothing awaits before the handover is sent.
      checkNotStopping()
      channel.send({ t: 'handover', metrics: counts })
      anchor?.handover(child.pid)
      handedOver = true
    } catch (err) {
      successor = undefined
      // What the successor's workers answered during the overlap stays counted.
      workerCounts.lost()
      const stoppingNow = stopRequested()
      // A successor that died closes the channel before its exit is reported: say which it was.
      let reason = err
      if (!stoppingNow && child && (err as SmoothError).code === 'SMOOTH_STATUS_CHANNEL_CLOSED') {
        const gone = await Promise.race([child.exited, grace(1000)])
        if (gone) reason = new SmoothError('SMOOTH_SUCCESSOR_EXITED', child.pid, gone.signal ? `signal ${gone.signal}` : `exit code ${gone.code}`)
      }
      // A shutdown: the successor stops gracefully with us (its workers drain); a failure: it is killed.
      child?.kill(stoppingNow ? 'SIGTERM' : 'SIGKILL')
      const exit = child ? await Promise.race([child.exited, grace(stoppingNow ? (config!.process.gracefulShutdownTimeoutMs + 5_000) : 3000)]) : undefined
      if (stoppingNow && child && !exit) child.kill('SIGKILL')
      if (stoppingNow) throw new SmoothError('SMOOTH_SHUTTING_DOWN')
      let recorded: string | undefined
      // Its first line: "Error: release B is broken", or "SMOOTH_LISTEN_FAILED: cannot listen on …".
      try { recorded = readFileSync(failure, 'utf8').trim().split('\n')[0] } catch { /* no error was recorded */ }
      // An anchor that does not answer keeps its own code (SMOOTH_ANCHOR_GONE): the operator's fix is not the release's.
      throw rollbackReason(reason, child?.pid, plan.target, recorded)
    } finally {
      channel.close()
      rmSync(failure, { force: true })
    }
  }

  /** Serves admin on its own address from this process (`fd`: inherited from the previous generation). */
  async function openAdmin(fd: number | undefined): Promise<void> {
    const spec = config!.process.adminAddress!
    // Loaded only when an admin address is configured: a primary without one never loads Fastify.
    const { startAdminServer } = await import('../admin/server.js')
    adminServer = await startAdminServer({
      spec,
      fd,
      pattern: spec.server,
      credentials: adminSecret?.credentials,
      hosts: config!.process.adminHosts,
      auth: started.find((s) => s.adminAuth)?.adminAuth,
      context: { control: (command, args) => handleControl(command, args) },
      log,
    })
  }

  /** The admin server's listening handle (sent to the anchor like the app's). */
  function adminHandle(): RawHandle {
    return (adminServer!.app.server as unknown as { _handle: RawHandle })._handle
  }

  /**
   * Full restart, first half: stop accepting (the sockets close, new connections are refused), let
   * the workers finish what they have, and free the ports for the successor to bind.
   */
  async function stopServingForFullRestart(rec: RolloutRecord): Promise<void> {
    rec.progress.step = 'full restart: draining before the successor binds'
    log.warn('full restart: new connections are refused until the new generation listens')
    pool!.stopReplacing()
    const drained = pool!.drainAll(config!.process.gracefulTimeoutMs)
    for (const l of listeners) l.close()
    await adminServer?.app.close()
    await drained
  }

  /** Full restart rolled back: bind the same ports again and start workers again. */
  async function resumeAfterFullRestart(): Promise<void> {
    try {
      const specs = listeners.map((l) => ({ ...l.spec, port: l.port }))
      // Another program may hold a port for a while: keep trying for a bounded time, then give up.
      const deadline = Date.now() + REBIND_FOR_MS
      for (;;) {
        try {
          listeners = await bindAll(specs, {})
          break
        } catch (err) {
          if (Date.now() > deadline) throw err
          log.error({ err: (err as Error).message }, 'full restart rollback: cannot bind yet, retrying')
          await delay(500)
        }
      }
      pool!.setHandles(listeners.map((l) => l.handle))
      if (config!.process.adminAddress) await openAdmin(undefined)
      pool!.resumeReplacing()
      pool!.refill()
      await pool!.whenFull()
      log.warn('full restart rolled back: serving again')
    } catch (err) {
      fatal(err)
    }
  }

  function handshake(channel: StatusServer, child: Generation, rec: RolloutRecord, hooks: RequesterHooks): Promise<void> {
    return new Promise((resolve, reject) => {
      let timer = setTimeout(() => fail(new SmoothError('SMOOTH_SUCCESSOR_HELLO_TIMEOUT', child.pid, SUCCESSOR_HELLO_TIMEOUT_MS)), SUCCESSOR_HELLO_TIMEOUT_MS)
      const stepTimeout = config!.process.readyTimeoutMs + config!.process.gracefulTimeoutMs + 15_000
      const rearm = (what: string): void => {
        clearTimeout(timer)
        timer = setTimeout(() => fail(new SmoothError('SMOOTH_SUCCESSOR_NOT_READY', child.pid, what, stepTimeout)), stepTimeout)
      }
      let settled = false
      let firstReadyAt: number | undefined
      const fail = (err: Error): void => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        reject(err)
      }
      // One restart at a time: the hook of an earlier one (settled long ago) goes.
      onStop.length = 0
      onStop.push(() => fail(new SmoothError('SMOOTH_SHUTTING_DOWN')))
      void child.exited.then(({ code, signal }) => fail(new SmoothError('SMOOTH_SUCCESSOR_EXITED', child.pid, signal ? `signal ${signal}` : `exit code ${code}`)))
      channel.on('hello', () => {
        channel.send({ t: 'welcome', counters: { ...counters, workerCrashes: counters.workerCrashes + (pool?.crashes ?? 0), metrics: metrics.counters() }, history: rollouts.history, restart: rec })
        rearm('its first worker')
      })
      channel.on('close', () => fail(new SmoothError('SMOOTH_STATUS_CHANNEL_CLOSED', child.pid)))
      channel.on('frame', (frame: SuccessorFrame) => {
        switch (frame.t) {
          case 'workerReady': {
            rearm('the next worker')
            firstReadyAt ??= Date.now()
            rec.progress.done++
            rec.progress.step = `new worker ${frame.workerPid} ready; retiring an old one`
            // The worker holding a wait=1 request goes last, and answers it first.
            const candidates = pool!.live().filter((s) => s.state === 'ready' || s.state === 'starting')
            const old = candidates.find((s) => s !== hooks.requester) ?? candidates[0]
            if (!old) return channel.send({ t: 'retired', workerPid: null })
            if (old === hooks.requester) hooks.beforeRequesterDrains?.(rec)
            void pool!.drain(old, config!.process.gracefulTimeoutMs).then(() => channel.send({ t: 'retired', workerPid: old.pid }))
            return
          }
          case 'ready':
            // Said ready; it must stay up a moment before it gets the service.
            rec.progress.step = 'successor ready; settling'
            clearTimeout(timer)
            timer = setTimeout(() => {
              if (settled) return
              settled = true
              resolve()
            }, Math.max(WORKER_SETTLE_MS, SETTLE_MS - (Date.now() - (firstReadyAt ?? Date.now()))))
            return
          case 'workerDied':
            fail(new SmoothError('SMOOTH_SUCCESSOR_WORKER_DIED', child.pid, `worker ${frame.workerPid}, exit code ${frame.code}`))
            return
          case 'failed':
            fail(successorFailure(child.pid, `${frame.code}: ${frame.message}`))
            return
        }
      })
    })
  }

  /** After a handover: stop accepting, drain what is left, exit 0. The successor is live. */
  async function retire(): Promise<void> {
    state = 'retiring'
    rollouts.closed = true
    pool!.stopReplacing()
    adminServer?.app.server.close()
    const forced = await pool!.drainAll(config!.process.gracefulTimeoutMs)
    for (const l of listeners) l.close()
    log.info({ forced }, 'all servers shutdown')
    doneResolve()
    setImmediate(() => process.exit(0))
  }

  /** Worker IPC -> handleControl -> reply on the same channel. */
  async function control(msg: ControlMessage, from: WorkerSlot): Promise<void> {
    const { status: code, body } = await handleControl(msg.command, msg.args, from)
    from.send({ smooth: TAG, act: 'controlReply', id: msg.id, ok: code < 400, status: code, body })
  }

  /**
   * The admin API's actions, whether they come from a worker (app ports) or the primary's own admin
   * server. Actions answer 202 with the rollout at once; with `wait=1`, its outcome. A wait=1 request
   * served by a worker is answered just before that worker is drained (it is drained last), since a
   * worker cannot drain while it holds the request waiting for its own drain.
   */
  async function handleControl(command: ControlCommand, args: Record<string, string | undefined>, requester?: WorkerSlot): Promise<{ status: number; body: unknown }> {
    const failure = (err: unknown): { status: number; body: unknown } => {
      const e = err as SmoothError
      const code = e.code ?? 'ERROR'
      const http = code === 'SMOOTH_ROLLOUT_IN_PROGRESS' || code === 'SMOOTH_GRACEFUL_DISABLED' || code === 'SMOOTH_SHUTTING_DOWN' ? 409
        : code === 'SMOOTH_EXE_NOT_ALLOWED' || code === 'SMOOTH_EXE_UNSAFE' ? 403 : code.startsWith('SMOOTH_EXE_') || code === 'SMOOTH_SCALE_INVALID' ? 400
          : code === 'SMOOTH_ANCHOR_GONE' ? 503 : 500
      return { status: http, body: { error: e.message, code } }
    }
    switch (command) {
      case 'ready': {
        // For load balancers and Kubernetes: ready while a generation serves — this one as soon as a
        // worker accepts (a successor's workers serve before its start-up is over), or the successor
        // this one hands over or handed over to — and not once shutting down.
        const accepting = pool?.live().some((w) => w.state === 'ready') ?? false
        // (Not in a full restart: there the sockets are closed until the successor binds them.)
        const handingOver = successor !== undefined && state === 'serving' && !config?.process.fullRestart
        const ready = state === 'retiring' || handingOver || ((state === 'serving' || state === 'starting') && accepting)
        return { status: ready ? 200 : 503, body: { ready, state, generation } }
      }
      case 'status':
        await pool?.collectStats()
        return { status: 200, body: status() }
      case 'metrics': {
        if (!config?.process.metrics) return { status: 404, body: { error: 'metrics are off' } }
        return { status: 200, body: await aggregate(metrics.registry, await workerCounts.forScrape()) }
      }
      case 'shutdown':
        setImmediate(() => void shutdown('admin'))
        return { status: 200, body: { message: 'server shutdown' } }
      case 'scale': {
        let scaling: { rec: RolloutRecord; done: Promise<RolloutRecord> }
        try {
          // The worker holding a wait=1 request stays: it could not drain while it holds it.
          scaling = startScale(args.workers, 'admin', requester)
        } catch (err) {
          return failure(err)
        }
        if (args.wait !== '1' && args.wait !== 'true') return { status: 202, body: { message: 'workers scaling', rollout: scaling.rec } }
        try {
          return { status: 200, body: { message: 'workers scaled', rollout: await scaling.done } }
        } catch (err) {
          return failure(err)
        }
      }
      case 'reload':
      case 'restart': {
        const wait = args.wait === '1' || args.wait === 'true'
        let early: ((rec: RolloutRecord) => void) | undefined
        const answeredEarly = new Promise<RolloutRecord>((resolve) => (early = resolve))
        let started: { rec: RolloutRecord; done: Promise<RolloutRecord> }
        try {
          const exe = args.newExeFilePath || undefined
          if (command === 'restart' && exe) checkAllowed(exe, config?.process.adminExeAllowList ?? [])
          started = startRollout(command, 'admin', exe, wait && requester ? { requester, beforeRequesterDrains: early! } : {})
        } catch (err) {
          return failure(err)
        }
        if (!wait) return { status: 202, body: { message: command === 'reload' ? 'server reloading' : 'server restarting', rollout: started.rec } }
        try {
          const rec = await Promise.race([started.done, answeredEarly])
          return { status: 200, body: { message: command === 'reload' ? 'server reloaded' : 'server restarted', rollout: rec } }
        } catch (err) {
          return failure(err)
        }
      }
    }
  }

  function shutdown(reason: string): Promise<void> {
    if (stopping) {
      log.info({ reason }, 'already shutting down')
      return stopping
    }
    stopping = (async () => {
      // A restart in its handshake learns it at once (and never hands over).
      for (const f of onStop.splice(0)) f()
      await bootPromise?.catch(() => {})
      const wasRetiring = state === 'retiring'
      state = 'stopping'
      rollouts.closed = true
      log.info({ reason }, 'server shutting down')
      // A successor that is still starting is part of this tree: it shuts down gracefully too.
      if (successor && !wasRetiring) successor.kill('SIGTERM')
      pool?.stopReplacing()
      const timeoutMs = config?.process.gracefulShutdownTimeoutMs ?? 30_000
      // Workers stop accepting as they get the drain message; with the primary's copies closed too,
      // the sockets close and new connections are refused. Accepted ones are finished.
      const drained = pool?.drainAll(timeoutMs) ?? Promise.resolve(0)
      for (const l of listeners) l.close()
      const forced = await drained
      await adminServer?.app.close()
      if (successor && !wasRetiring) await Promise.race([successor.exited, grace(timeoutMs + 15_000)])
      // A restart that was starting its successor when the shutdown came: wait until it has unwound
      // (the successor told to stop and gone), so no process outlives this one.
      if (!wasRetiring) await Promise.race([handingOver?.catch(() => {}), grace(timeoutMs + 15_000)])
      if (config?.process.pidFile && (!anchor || anchor.gone)) removePidFile(config.process.pidFile)
      if (config?.process.pidFile && !handedOver) removeState(config.process.pidFile)
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
    reload: () => reload('api'),
    restart: (newExeFilePath?: string) => restart(newExeFilePath, 'api'),
    wait: () => done,
  }
}

/** Same file the preload writes; whichever writes first wins. */
function writeFailure(path: string, text: string): void {
  writeFileSync(path, text, { flag: 'wx' })
}

/** Resolves after `ms` without keeping the process alive. */
/** The anchor's pid: the one a pid file names while there is an anchor. */
function anchorPid(): number {
  return Number(process.env[EnvNames.anchorPid]) || process.ppid
}

function grace(ms: number): Promise<undefined> {
  return delay(ms, undefined, { ref: false })
}
