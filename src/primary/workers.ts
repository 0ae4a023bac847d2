import cluster, { type Worker } from 'node:cluster'
import { EventEmitter } from 'node:events'
import { setTimeout as delay } from 'node:timers/promises'
import type { Logger } from 'pino'
import { EnvNames, ListenersEnv, type ListenerRef } from '../env.js'
import { isSmoothMessage, TAG, type ControlMessage, type FromWorker, type ToWorker, type WorkerStats } from '../protocol.js'
import type { RawHandle } from './listeners.js'
import { startDir, type Launch } from './launch.js'
import { execArgv } from './successor.js'
import { SmoothError } from '../errors.js'
import { bootQuietly } from './boot-priority.js'

export type WorkerState = 'starting' | 'ready' | 'draining' | 'dead'

/**
 * One worker process as the primary sees it. Its state is one value, never a set of flags:
 * starting (forked, building its apps) -> ready (accepting connections) -> draining -> dead.
 */
export class WorkerSlot {
  state: WorkerState = 'starting'
  readonly startedAt = Date.now()
  readyAt: number | undefined
  forced = 0
  exitCode: number | null = null
  /** Died without being asked to (not after a drain). */
  crashed = false
  stats: WorkerStats | undefined
  /** Its registry as of the latest scrape, and whether its counts went to the ledger already. */
  lastMetrics: unknown[] | undefined
  counted = false
  /** Over its under-pressure limits, and whether it was told to stop accepting for it. */
  underPressure = false
  paused = false
  /** When its event loop last answered the heartbeat (see watchdog.ts), and whether that is recent. */
  lastSeen = Date.now()
  responding = true
  /** Requests answered, as of its last heartbeat (counted only with maxWorkerRequests). */
  requests = 0
  /** Killed by the primary because it stopped answering ('timeout'), not crashed on its own. */
  killedFor: 'timeout' | undefined
  readonly exited: Promise<void>
  private markExited!: () => void

  constructor(readonly id: number, readonly worker: Worker) {
    this.exited = new Promise((r) => (this.markExited = r))
  }

  get pid(): number {
    return this.worker.process.pid!
  }

  send(msg: ToWorker, handle?: RawHandle, cb?: (err: Error | null) => void): void {
    if (!this.worker.isConnected()) {
      cb?.(new Error('worker disconnected'))
      return
    }
    this.worker.process.send!(msg, handle as never, {}, (err) => cb?.(err ?? null))
  }

  exit(code: number | null): void {
    this.state = 'dead'
    this.exitCode = code
    this.markExited()
  }
}

export interface PoolOptions {
  size: number
  servers: string[]
  listeners: ListenerRef[]
  generation: number
  readyTimeoutMs: number
  log: Logger
  /** The entry workers run and where they start: resolved anew at each fork (a release may be gone). */
  launch: Launch
  /** The listening sockets by listener index; each ready worker accepts from a duplicate. */
  handles: RawHandle[]
  onControl(msg: ControlMessage, from: WorkerSlot): void
}

/** Start-up failures in a row after which a crash loop is reported (and, before any worker was ever
 * ready, start-up gives up). */
const CRASH_LOOP_AT = 5
const MAX_BACKOFF_MS = 30_000
/** A worker that dies within this long after ready counts as failing to start. */
const HEALTHY_AFTER_MS = 5_000

/**
 * The workers of one generation: forks them, marks them ready, replaces the ones that die (with
 * exponential back-off, so a crash loop is reported instead of spinning), drains them on request.
 */
export class WorkerPool extends EventEmitter {
  readonly slots = new Map<number, WorkerSlot>()
  private nextId = 1
  private failures = 0
  private everReady = false
  private replacing = true
  crashes = 0
  /** Workers killed because they stopped answering (watchdog.ts). */
  timeouts = 0
  /** Silence (no heartbeat answer) after which a worker counts as stuck; set by the watchdog. */
  silentAfterMs = Infinity
  private replaceTimer: NodeJS.Timeout | undefined

  constructor(private readonly opts: PoolOptions) {
    super()
  }

  live(): WorkerSlot[] {
    return [...this.slots.values()].filter((s) => s.state !== 'dead')
  }

  /** Forks the initial workers; resolves when all are ready, rejects if none ever can be. */
  startAll(): Promise<void> {
    for (let i = 0; i < this.opts.size; i++) this.fork()
    return this.whenFull()
  }

  /** Resolves when `size` workers accept; rejects if the pool gives up (no worker could ever start). */
  whenFull(): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (this.live().filter((s) => s.state === 'ready').length >= this.opts.size) {
          this.off('ready', check)
          this.off('gaveUp', fail)
          resolve()
        }
      }
      const fail = (err: Error): void => {
        this.off('ready', check)
        reject(err)
      }
      this.on('ready', check)
      this.once('gaveUp', fail)
    })
  }

  /**
   * Forks a worker. `settleMs` > 0 (rollouts) holds its connections back for that long after it says
   * ready, so a new version that dies right after start-up is caught before it gets a connection.
   */
  fork(settleMs = 0): WorkerSlot {
    const id = this.nextId++
    // Never the primary's own cwd: the release it started in may have been deleted since.
    cluster.setupPrimary({ exec: this.opts.launch.entry, cwd: startDir(this.opts.launch), execArgv: execArgv() })
    const worker = cluster.fork({
      [EnvNames.role]: 'worker',
      [EnvNames.workerId]: String(id),
      [EnvNames.servers]: this.opts.servers.join(','),
      [EnvNames.generation]: String(this.opts.generation),
      [ListenersEnv]: JSON.stringify(this.opts.listeners),
    })
    const slot = new WorkerSlot(id, worker)
    this.slots.set(id, slot)
    // A rollout's worker boots beside serving ones: at a lower CPU priority until it accepts.
    const raisePriority = settleMs > 0 ? bootQuietly(worker.process.pid) : () => {}
    const readyTimer = setTimeout(() => {
      if (slot.state !== 'starting') return
      this.opts.log.error({ worker: id, workerPid: slot.pid, timeoutMs: this.opts.readyTimeoutMs }, 'worker not ready in time: killed')
      worker.process.kill('SIGKILL')
    }, this.opts.readyTimeoutMs)
    worker.on('message', (msg: unknown) => {
      if (!isSmoothMessage<FromWorker>(msg)) return
      switch (msg.act) {
        case 'ready':
          if (slot.state !== 'starting') return
          if (settleMs > 0) setTimeout(() => { if (slot.state === 'starting') this.startAccepting(slot) }, settleMs)
          else this.startAccepting(slot)
          return
        case 'accepting':
          clearTimeout(readyTimer)
          raisePriority()
          if (slot.state !== 'starting') return
          slot.state = 'ready'
          slot.readyAt = Date.now()
          slot.lastSeen = slot.readyAt
          this.everReady = true
          this.opts.log.info({ worker: id, workerPid: slot.pid }, 'worker ready')
          this.emit('ready', slot)
          this.balance()
          return
        case 'control':
          this.opts.onControl(msg, slot)
          return
        case 'signal':
          this.emit('signal', slot, msg.signal)
          return
        case 'pressure':
          slot.underPressure = msg.under
          this.opts.log.warn({ worker: id, workerPid: slot.pid }, msg.under ? 'worker under pressure' : 'worker healthy again')
          this.balance()
          return
        case 'drained':
          slot.forced = msg.forced
          this.settleCounts(slot, msg.metrics)
          return
        case 'metricsReply':
          if (!slot.counted) slot.lastMetrics = msg.metrics
          this.emit('metrics', slot, msg.metrics)
          return
        case 'pong':
          slot.lastSeen = Date.now()
          slot.responding = true
          slot.stats = msg.stats
          slot.requests = msg.requests
          return
        case 'statsReply':
          slot.stats = msg.stats
          this.emit('stats', slot)
          return
      }
    })
    worker.on('error', (err) => this.opts.log.debug({ worker: id, err: err.message }, 'worker channel error'))
    worker.on('exit', (code, signal) => {
      clearTimeout(readyTimer)
      const was = slot.state
      slot.exit(code)
      this.slots.delete(id)
      this.balance()
      // Killed or crashed before saying drained: its counts as of the latest scrape.
      this.settleCounts(slot, undefined)
      if (slot.killedFor === 'timeout') this.timeouts++
      if (was === 'draining') {
        this.emit('exit', slot)
        return
      }
      if (slot.killedFor !== 'timeout') this.crashes++
      slot.crashed = true
      const lived = slot.readyAt ? Date.now() - slot.readyAt : 0
      this.failures = lived >= HEALTHY_AFTER_MS ? 0 : this.failures + 1
      this.opts.log.error({ worker: id, workerPid: slot.pid, code, signal, state: was }, 'worker died')
      this.emit('exit', slot)
      this.scheduleReplacement(code, signal)
    })
    return slot
  }

  /**
   * New connections go to healthy workers: a ready worker under pressure stops accepting while at
   * least one other ready worker is healthy, and accepts again when it recovers or is the last
   * healthy-or-not worker left (someone must accept; it sheds with 503 what it cannot take).
   */
  private balance(): void {
    const ready = this.live().filter((s) => s.state === 'ready')
    for (const slot of ready) {
      const othersHealthy = ready.some((o) => o !== slot && !o.underPressure && !o.paused)
      if (slot.underPressure && !slot.paused && othersHealthy) {
        slot.paused = true
        slot.send({ smooth: TAG, act: 'pause' })
        this.opts.log.warn({ worker: slot.id, workerPid: slot.pid }, 'worker under pressure: no new connections while others are healthy')
      } else if (slot.paused && (!slot.underPressure || !othersHealthy)) {
        slot.paused = false
        this.startAccepting(slot)
        this.opts.log.info({ worker: slot.id, workerPid: slot.pid }, 'worker accepting again')
      }
    }
  }

  /** Hands the worker its duplicates of the listening sockets and lets it accept. */
  private startAccepting(slot: WorkerSlot): void {
    this.opts.handles.forEach((handle, listener) => slot.send({ smooth: TAG, act: 'listen', listener }, handle))
    slot.send({ smooth: TAG, act: 'accept' })
  }

  private scheduleReplacement(code: number | null, signal: string | null): void {
    if (!this.replacing) return
    if (!this.everReady && this.failures >= CRASH_LOOP_AT) {
      this.replacing = false
      this.emit('gaveUp', new Error(`${this.failures} workers in a row exited before ready (last: code ${code}, signal ${signal})`))
      return
    }
    const delay = this.failures === 0 ? 0 : Math.min(MAX_BACKOFF_MS, 250 * 2 ** (this.failures - 1))
    if (this.failures >= CRASH_LOOP_AT) {
      this.opts.log.error({ failures: this.failures, nextAttemptInMs: delay }, 'worker crash loop: backing off')
    }
    this.replaceTimer = setTimeout(() => {
      this.replaceTimer = undefined
      if (this.replacing && this.live().length < this.opts.size) this.fork()
    }, delay)
  }

  /**
   * Resolves when this worker accepts connections; rejects (with why) when it exits first or is not
   * ready within `timeoutMs` (it is then killed).
   */
  whenAccepting(slot: WorkerSlot, timeoutMs: number): Promise<void> {
    if (slot.state === 'ready') return Promise.resolve()
    return new Promise((resolve, reject) => {
      const cleanup = (): void => {
        clearTimeout(timer)
        this.off('ready', onReady)
        this.off('exit', onExit)
      }
      const onReady = (s: WorkerSlot): void => {
        if (s !== slot) return
        cleanup()
        resolve()
      }
      const onExit = (s: WorkerSlot): void => {
        if (s !== slot) return
        cleanup()
        reject(new SmoothError('SMOOTH_WORKER_EXITED_BEFORE_READY', slot.pid, `code ${s.exitCode}`))
      }
      const timer = setTimeout(() => {
        cleanup()
        slot.worker.process.kill('SIGKILL')
        reject(new SmoothError('SMOOTH_WORKER_NOT_READY', slot.pid, timeoutMs))
      }, timeoutMs)
      this.on('ready', onReady)
      this.on('exit', onExit)
    })
  }

  /** New listening sockets for the workers forked from now on (after a full restart's rollback). */
  setHandles(handles: RawHandle[]): void {
    this.opts.handles = handles
  }

  /** Asks every live worker for its numbers; waits at most `timeoutMs` (a draining or dying worker may not answer). */
  async collectStats(timeoutMs = 250): Promise<void> {
    const live = this.live().filter((s) => s.worker.isConnected())
    if (live.length === 0) return
    let pending = live.length
    let onStats!: () => void
    const all = new Promise<void>((resolve) => { onStats = () => { if (--pending === 0) resolve() } })
    this.on('stats', onStats)
    for (const s of live) s.send({ smooth: TAG, act: 'stats', id: 0 })
    await Promise.race([all, delay(timeoutMs, undefined, { ref: false })])
    this.off('stats', onStats)
  }

  /** A worker's last counts go to the ledger once (emitted as 'counts'); scrapes stop asking it. */
  private settleCounts(slot: WorkerSlot, final: unknown[] | undefined): void {
    if (slot.counted) return
    slot.counted = true
    this.emit('counts', slot, final ?? slot.lastMetrics)
  }

  /**
   * Every live worker's metrics registry as JSON; waits at most `timeoutMs`, then takes what came. A
   * worker that did not answer in time is given its counts of the latest scrape, so a slow worker
   * never makes a counter dip. Only ready workers are asked: a booting one has counted nothing yet
   * and a draining one is busy finishing (its final counts come with `drained`), so a scrape never
   * waits on a rollout. The caller drops slots that are `counted` by the time it reads the ledger, so
   * a worker that left meanwhile counts once.
   */
  async collectMetrics(timeoutMs = 500): Promise<Array<[WorkerSlot, unknown[]]>> {
    const known = this.live().filter((s) => !s.counted)
    const live = known.filter((s) => s.state === 'ready' && s.worker.isConnected())
    const got = new Map<WorkerSlot, unknown[]>()
    for (const s of known) if (!live.includes(s) && s.lastMetrics) got.set(s, s.lastMetrics)
    if (live.length === 0) return [...got]
    let onMetrics!: (slot: WorkerSlot, m: unknown[]) => void
    const all = new Promise<void>((resolve) => {
      const answered = new Set<WorkerSlot>()
      onMetrics = (slot, m) => {
        if (!live.includes(slot)) return
        got.set(slot, m)
        answered.add(slot)
        if (answered.size === live.length) resolve()
      }
    })
    this.on('metrics', onMetrics)
    for (const s of live) s.send({ smooth: TAG, act: 'metrics', id: 0 })
    await Promise.race([all, delay(timeoutMs, undefined, { ref: false })])
    this.off('metrics', onMetrics)
    for (const s of live) if (!got.has(s) && s.lastMetrics) got.set(s, s.lastMetrics)
    return [...got]
  }

  /** Forks workers until `size` are alive again (after a rollback). */
  refill(): void {
    // A worker still draining (retired for a successor that then failed) is on its way out: not counted.
    for (let n = this.live().filter((s) => s.state !== 'draining').length; n < this.opts.size; n++) this.fork()
  }

  get size(): number {
    return this.opts.size
  }

  /** The worker count to keep (scale): replacements and refills aim at it from now on. */
  resize(size: number): void {
    this.opts.size = size
  }

  resumeReplacing(): void {
    this.replacing = true
  }

  /** Stops replacing workers that die (shutdown). */
  stopReplacing(): void {
    this.replacing = false
    if (this.replaceTimer) clearTimeout(this.replaceTimer)
  }

  /** Takes a worker out of rotation and lets it finish its connections, then it exits. */
  drain(slot: WorkerSlot, timeoutMs: number): Promise<void> {
    if (slot.state === 'dead') return Promise.resolve()
    // Asked twice (a shutdown during a reload, say): the first drain goes on, as in the worker.
    if (slot.state === 'draining') return slot.exited
    if (slot.state === 'starting') {
      // Nothing was handed to it yet: no drain needed.
      slot.state = 'draining'
      slot.worker.process.kill('SIGKILL')
      return slot.exited
    }
    slot.state = 'draining'
    // A worker paused under pressure may be the only one left to accept now.
    this.balance()
    const since = Date.now()
    void slot.exited.then(() => this.emit('drained', slot, Date.now() - since))
    slot.send({ smooth: TAG, act: 'drain', timeoutMs })
    // The worker forces its own connections at timeoutMs, unless its event loop is stuck: then it is
    // killed at that deadline. The margin after it covers the onClose hooks of one that answers.
    let poll: NodeJS.Timeout | undefined
    const deadline = setTimeout(() => {
      const check = (): void => {
        if (Date.now() - slot.lastSeen > this.silentAfterMs) this.killForced(slot, 'worker not responding at its drain deadline: killed')
      }
      check()
      poll = setInterval(check, 250)
    }, timeoutMs)
    const hardKill = setTimeout(() => this.killForced(slot, 'worker did not exit after its drain: killed'), timeoutMs + 10_000)
    return slot.exited.finally(() => {
      clearTimeout(deadline)
      clearInterval(poll)
      clearTimeout(hardKill)
    })
  }

  /**
   * SIGKILL for a draining worker past its deadline: its connections are lost, so the drain counts as
   * forced (with the connections it last reported, at least one).
   */
  killForced(slot: WorkerSlot, why: string): void {
    if (slot.state === 'dead') return
    slot.forced = Math.max(slot.forced, slot.stats?.connections ?? 0, 1)
    this.opts.log.error({ worker: slot.id, workerPid: slot.pid, forced: slot.forced, silentForMs: Date.now() - slot.lastSeen }, why)
    slot.worker.process.kill('SIGKILL')
  }

  async drainAll(timeoutMs: number): Promise<number> {
    const slots = this.live()
    await Promise.all(slots.map((s) => this.drain(s, timeoutMs)))
    return slots.reduce((n, s) => n + s.forced, 0)
  }
}
