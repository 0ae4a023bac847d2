import { EventEmitter } from 'node:events'
import type { Logger } from 'pino'
import { EnvNames, isSmoothMessage } from '../wire.js'
import type { ListenerRef } from '../env.js'
import type { ControlMessage, FromWorker } from '../protocol.js'
import type { RawHandle } from './listeners.js'
import { startDir, type Launch } from './launch.js'
import { execArgv } from './successor.js'
import { realOs, type Os, type Timer } from './os.js'
import { timings as defaultTimings, type Timings } from './timings.js'
import { WorkerSlot } from './worker-slot.js'
import { drainSlot, killForced } from './pool-drain.js'
import { PoolQueries } from './pool-collect.js'
import { whenAccepting, whenFull } from './pool-waits.js'

export { WorkerSlot, type WorkerState } from './worker-slot.js'

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
  /** The OS and the deadlines (unit tests give a fake OS and small numbers). */
  os?: Os
  timings?: Timings
}

/**
 * The workers of one generation: forks them, marks them ready, replaces the ones that die (with
 * exponential back-off, so a crash loop is reported instead of spinning), drains them on request.
 * Draining lives in pool-drain.ts, the stats and metrics requests in pool-collect.ts.
 */
export class WorkerPool extends EventEmitter {
  readonly slots = new Map<number, WorkerSlot>()
  readonly os: Os
  readonly timings: Timings
  private nextId = 1
  private failures = 0
  private everReady = false
  private replacing = true
  /** handOffConnections: a rollout's drains hand idle keep-alive connections to ready workers (handoff.ts). */
  handOff = false
  crashes = 0
  /** Workers killed because they stopped answering (watchdog.ts). */
  timeouts = 0
  /** Silence (no heartbeat answer) after which a worker counts as stuck; set by the watchdog. */
  silentAfterMs = Infinity
  private replaceTimer: Timer | undefined
  private readonly queries: PoolQueries

  constructor(private readonly opts: PoolOptions) {
    super()
    this.os = opts.os ?? realOs
    this.timings = opts.timings ?? defaultTimings
    this.queries = new PoolQueries(this)
  }

  get log(): Logger {
    return this.opts.log
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
    return whenFull(this, () => this.opts.size)
  }

  /**
   * Forks a worker. `settleMs` > 0 (rollouts) holds its connections back for that long after it says
   * ready, so a new version that dies right after start-up is caught before it gets a connection: no
   * signal can say a process will not die in the next moment, so this one wait stays. It boots at the
   * normal CPU priority: at nice +10 a reload of 4 workers under load took 5-7.5 s instead of 2-2.5 s.
   */
  fork(settleMs = 0): WorkerSlot {
    const id = this.nextId++
    const { os } = this
    // Never the primary's own cwd: the release it started in may have been deleted since.
    const proc = os.forkWorker({
      entry: this.opts.launch.entry,
      cwd: startDir(this.opts.launch),
      execArgv: execArgv(),
      env: {
        [EnvNames.role]: 'worker',
        [EnvNames.workerId]: String(id),
        [EnvNames.servers]: this.opts.servers.join(','),
        [EnvNames.generation]: String(this.opts.generation),
        [EnvNames.listeners]: JSON.stringify(this.opts.listeners),
      },
    })
    const slot = new WorkerSlot(id, proc, os)
    this.slots.set(id, slot)
    const readyTimer = os.setTimeout(() => {
      if (slot.state !== 'starting') return
      this.opts.log.error({ worker: id, workerPid: slot.pid, timeoutMs: this.opts.readyTimeoutMs }, 'worker not ready in time: killed')
      slot.kill('SIGKILL')
    }, this.opts.readyTimeoutMs)
    proc.on('message', (msg: unknown, handle: unknown) => {
      if (!isSmoothMessage<FromWorker>(msg)) return
      // Connection hand-off (handoff.ts): a connection handle from a draining worker, an adoption's answer.
      if (msg.act === 'handOff' || msg.act === 'adopted') return void this.emit(msg.act, slot, msg, handle)
      if (msg.act === 'accepting') os.clearTimeout(readyTimer)
      this.onMessage(slot, msg, settleMs)
    })
    proc.on('error', (err) => this.opts.log.debug({ worker: id, err: err.message }, 'worker channel error'))
    proc.on('exit', (code, signal) => {
      os.clearTimeout(readyTimer)
      this.onExit(slot, code, signal)
    })
    return slot
  }

  private onMessage(slot: WorkerSlot, msg: FromWorker, settleMs: number): void {
    const log = this.opts.log
    switch (msg.act) {
      case 'ready':
        if (slot.state !== 'starting') return
        if (settleMs > 0) this.os.setTimeout(() => { if (slot.state === 'starting') this.startAccepting(slot) }, settleMs)
        else this.startAccepting(slot)
        return
      case 'accepting':
        if (slot.state !== 'starting') return
        slot.state = 'ready'
        slot.readyAt = this.os.now()
        slot.lastSeen = slot.readyAt
        this.everReady = true
        log.info({ worker: slot.id, workerPid: slot.pid }, 'worker ready')
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
        log.warn({ worker: slot.id, workerPid: slot.pid }, msg.under ? 'worker under pressure' : 'worker healthy again')
        this.balance()
        return
      case 'drained':
        slot.forced = msg.forced
        if (msg.handedOver !== undefined || msg.closed) slot.handOff = { handedOver: msg.handedOver ?? 0, closed: msg.closed ?? {} }
        this.settleCounts(slot, msg.metrics)
        return
      case 'pong':
        slot.lastSeen = this.os.now()
        slot.responding = true
        slot.stats = msg.stats
        slot.requests = msg.requests
        return
      case 'metricsReply':
      case 'statsReply':
        this.queries.onReply(slot, msg)
        return
    }
  }

  private onExit(slot: WorkerSlot, code: number | null, signal: string | null): void {
    const was = slot.state
    slot.exit(code)
    this.slots.delete(slot.id)
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
    const lived = slot.readyAt ? this.os.now() - slot.readyAt : 0
    this.failures = lived >= this.timings.healthyAfterMs ? 0 : this.failures + 1
    this.opts.log.error({ worker: slot.id, workerPid: slot.pid, code, signal, state: was }, 'worker died')
    this.emit('exit', slot)
    this.scheduleReplacement(code, signal)
  }

  /**
   * New connections go to healthy workers: a ready worker under pressure stops accepting while at
   * least one other ready worker is healthy, and accepts again when it recovers or is the last
   * healthy-or-not worker left (someone must accept; it sheds with 503 what it cannot take).
   */
  balance(): void {
    const ready = this.live().filter((s) => s.state === 'ready')
    for (const slot of ready) {
      const othersHealthy = ready.some((o) => o !== slot && !o.underPressure && !o.paused)
      if (slot.underPressure && !slot.paused && othersHealthy) {
        slot.paused = true
        slot.send({ act: 'pause' })
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
    this.opts.handles.forEach((handle, listener) => slot.send({ act: 'listen', listener }, handle))
    slot.send({ act: 'accept' })
  }

  private scheduleReplacement(code: number | null, signal: string | null): void {
    if (!this.replacing) return
    const t = this.timings
    if (!this.everReady && this.failures >= t.crashLoopAt) {
      this.replacing = false
      this.emit('gaveUp', new Error(`${this.failures} workers in a row exited before ready (last: code ${code}, signal ${signal})`))
      return
    }
    const delay = this.failures === 0 ? 0 : Math.min(t.maxBackoffMs, t.backoffBaseMs * 2 ** (this.failures - 1))
    if (this.failures >= t.crashLoopAt) {
      this.opts.log.error({ failures: this.failures, nextAttemptInMs: delay }, 'worker crash loop: backing off')
    }
    this.replaceTimer = this.os.setTimeout(() => {
      this.replaceTimer = undefined
      if (this.replacing && this.live().length < this.opts.size) this.fork()
    }, delay)
  }

  /**
   * Resolves when this worker accepts connections; rejects (with why) when it exits first or is not
   * ready within `timeoutMs` (it is then killed).
   */
  whenAccepting(slot: WorkerSlot, timeoutMs: number): Promise<void> {
    return whenAccepting(this, slot, timeoutMs)
  }

  /** New listening sockets for the workers forked from now on (after a full restart's rollback). */
  setHandles(handles: RawHandle[]): void {
    this.opts.handles = handles
  }

  /** Asks every live worker for its numbers; waits at most `timeoutMs` (a draining or dying worker may not answer). */
  collectStats(timeoutMs = this.timings.statsWaitMs): Promise<void> {
    return this.queries.collectStats(timeoutMs)
  }

  /** Every ready worker's metrics registry (pool-collect.ts says which workers are asked and why). */
  collectMetrics(timeoutMs = this.timings.metricsWaitMs): ReturnType<PoolQueries['collectMetrics']> {
    return this.queries.collectMetrics(timeoutMs)
  }

  /** A worker's last counts go to the ledger once (emitted as 'counts'); scrapes stop asking it. */
  private settleCounts(slot: WorkerSlot, final: WorkerSlot['lastMetrics']): void {
    if (slot.counted) return
    slot.counted = true
    this.emit('counts', slot, final ?? slot.lastMetrics)
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

  /** Set while a restart's successor takes our drains' connections (handoff.ts). */
  handOffToSuccessor = false

  /**
   * Whether draining `slot` hands its connections over: not once the pool stops replacing (a shutdown:
   * nothing takes them), and only when something can take them (the successor, or another ready
   * worker): an offer nobody can take comes back, and is closed later than a plain drain closes it.
   */
  handOffOnDrain(slot: WorkerSlot): boolean {
    if (!this.handOff || !this.replacing) return false
    return this.handOffToSuccessor || this.live().some((s) => s !== slot && s.state === 'ready')
  }

  /** Stops replacing workers that die (shutdown). */
  stopReplacing(): void {
    this.replacing = false
    this.os.clearTimeout(this.replaceTimer)
  }

  /** Takes a worker out of rotation and lets it finish its connections, then it exits (pool-drain.ts). */
  drain(slot: WorkerSlot, timeoutMs: number): Promise<void> {
    return drainSlot(this, slot, timeoutMs)
  }

  /** SIGKILL for a draining worker past its deadline (pool-drain.ts). */
  killForced(slot: WorkerSlot, why: string): void {
    killForced(this, slot, why)
  }

  async drainAll(timeoutMs: number): Promise<number> {
    const slots = this.live()
    await Promise.all(slots.map((s) => this.drain(s, timeoutMs)))
    return slots.reduce((n, s) => n + s.forced, 0)
  }
}
