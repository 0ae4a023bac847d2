import type { Logger } from 'pino'
import type { FastifyInstance } from 'fastify'
import type { ResolvedConfig } from '../config/resolve.js'
import type { Counters } from '../protocol.js'
import type { Server } from '../server.js'
import type { Listener } from './listeners.js'
import type { WorkerPool, WorkerSlot } from './workers.js'
import type { Rollouts, RolloutRecord } from './rollout.js'
import type { ServerState } from './state-file.js'
import type { AnchorLink } from './anchor-link.js'
import type { AdminSecret } from './admin-secret.js'
import type { BuildInfo } from './build-info.js'
import type { PrimaryMetrics } from '../metrics/primary-metrics.js'
import type { WorkerCounts } from '../metrics/worker-counts.js'
import type { Launch } from './launch.js'
import type { Os } from './os.js'
import type { Timings } from './timings.js'
import type { Upgrade } from './upgrade/state.js'

/**
 * The primary's own life: collecting (start() calls of the first tick) -> starting -> serving ->
 * retiring (handed over to a successor) or stopping -> stopped. A restart's steps are not here: they
 * are the upgrade's (upgrade/state.ts).
 */
export type PrimaryState = 'collecting' | 'starting' | 'serving' | 'retiring' | 'stopping' | 'stopped'

export interface AdminServer { app: FastifyInstance; fd: number; port: number }

/** A wait=1 admin request served by a worker: that worker is drained last and answers first. */
export interface RequesterHooks {
  requester?: WorkerSlot
  beforeRequesterDrains?: (rec: RolloutRecord) => void
}

/**
 * What one primary process knows, shared by the files that make it up (primary.ts: boot and
 * shutdown; admin-dispatch.ts, status.ts, start-rollout.ts, upgrade/). One object, created once in
 * primary.ts; `config` and `pool` are set by boot before anything else reads them.
 */
export interface Primary {
  readonly log: Logger
  readonly generation: number
  readonly launch: Launch
  readonly anchor: AnchorLink | undefined
  readonly os: Os
  readonly timings: Timings
  /** The servers the user's start() calls named, in order. */
  readonly started: Server[]
  state: PrimaryState
  config: ResolvedConfig
  listeners: Listener[]
  pool: WorkerPool | undefined
  /** Connection hand-off (handoff.ts): where a draining worker's idle connections go; set with the pool. */
  handOff?: { toSuccessor(pid: number | undefined): void; toPool(): void }
  adminServer: AdminServer | undefined
  adminSecret: AdminSecret | undefined
  readonly rollouts: Rollouts
  readonly upgrade: Upgrade
  readonly metrics: PrimaryMetrics
  readonly workerCounts: WorkerCounts
  readonly counters: Counters
  readonly build: BuildInfo
  readonly startedAt: number
  lastRefused: ServerState['refused']
  /** A shutdown has started (it wins over a restart at every step). */
  stopRequested(): boolean
  /** Called when a shutdown starts: a restart in its handshake fails at once. */
  onStop(f: () => void): void
  /** The live generation's state next to the pid file (status.ts). */
  publishState(): void
  /** Logs, reports to the predecessor, kills the workers and exits 1. */
  fatal(err: unknown): never
  /** Serves admin on its own address (`fd`: inherited from the previous generation). */
  openAdmin(fd: number | undefined): Promise<void>
  shutdown(reason: string): Promise<void>
  /** Resolves the runtime's wait(): this process is done serving (retired or stopped). */
  markDone(): void
}
