/**
 * Every message between a primary and its workers, in one place (node's `internal/cluster` style).
 * Messages are plain JSON objects tagged `smooth: 1` so they never mix with the user's own
 * `process.send` traffic, and discriminated on `act`.
 *
 * Life of a worker:
 *   primary --listen{listener} + listening socket handle--> worker   (once per listener, after fork)
 *   worker  --ready------------------------------------------> primary (apps built, handles received)
 *   primary --accept-----------------------------------------> worker  (start accepting connections)
 *   worker  --accepting--------------------------------------> primary (its listen() is done)
 *   worker  --pressure{under}--------------------------------> primary (under-pressure limits crossed or not)
 *   primary --pause------------------------------------------> worker  (stop accepting; listen + accept resume)
 *   primary --drain{timeoutMs}-------------------------------> worker  (stop accepting, finish, exit)
 *   worker  --drained{forced}--------------------------------> primary (then the worker exits 0)
 *   primary --ping-------------------------------------------> worker  (every second, once ready)
 *   worker  --pong{stats}------------------------------------> primary (answered from its event loop:
 *                                                                        silence means it is stuck)
 *   worker  --signal{signal}---------------------------------> primary (a signal sent to the worker)
 *
 * The listening sockets stay open in the primary the whole time; a worker accepts from its own
 * duplicate of each, so there is no per-connection message at all (see primary/listeners.ts).
 */

export const TAG = 1 as const

export type ControlCommand = 'shutdown' | 'reload' | 'restart' | 'status' | 'metrics' | 'ready' | 'scale'

// primary -> worker
export interface ListenMessage { smooth: typeof TAG; act: 'listen'; listener: number }
export interface AcceptMessage { smooth: typeof TAG; act: 'accept' }
export interface DrainMessage { smooth: typeof TAG; act: 'drain'; timeoutMs: number }
export interface ControlReplyMessage {
  smooth: typeof TAG; act: 'controlReply'; id: number
  ok: boolean; status: number; body: unknown
}
export interface StatsRequest { smooth: typeof TAG; act: 'stats'; id: number }
export interface MetricsRequest { smooth: typeof TAG; act: 'metrics'; id: number }
/** Stop accepting new connections (under pressure while others are healthy); `listen` + `accept` resume. */
export interface PauseMessage { smooth: typeof TAG; act: 'pause' }
/** The heartbeat: answered with `pong` by the worker's event loop (see primary/watchdog.ts). */
export interface PingMessage { smooth: typeof TAG; act: 'ping' }
export type ToWorker = ListenMessage | AcceptMessage | DrainMessage | ControlReplyMessage | StatsRequest | MetricsRequest | PauseMessage | PingMessage

// worker -> primary
export interface ReadyMessage { smooth: typeof TAG; act: 'ready' }
export interface AcceptingMessage { smooth: typeof TAG; act: 'accepting' }
export interface ControlMessage {
  smooth: typeof TAG; act: 'control'; id: number; command: ControlCommand
  args: Record<string, string | undefined>
}
/** `metrics`: the worker's final registry dump, so its counts outlive it (see metrics/ledger.ts). */
export interface DrainedMessage { smooth: typeof TAG; act: 'drained'; forced: number; metrics?: unknown[] }
export interface WorkerStats { connections: number; inflight: number; rss: number; heapUsed: number }
/** `requests`: answered so far (counted only when maxWorkerRequests is set, else 0). */
export interface PongMessage { smooth: typeof TAG; act: 'pong'; stats: WorkerStats; requests: number }
export interface StatsReply { smooth: typeof TAG; act: 'statsReply'; id: number; stats: WorkerStats }
export interface MetricsReply { smooth: typeof TAG; act: 'metricsReply'; id: number; metrics: unknown[] }
/** Sent when the worker goes under pressure (@fastify/under-pressure limits) or recovers. */
export interface PressureMessage { smooth: typeof TAG; act: 'pressure'; under: boolean }
/** A signal the worker received, for the primary to act on as if sent to it. */
export const ForwardedSignals = ['SIGINT', 'SIGTERM', 'SIGQUIT', 'SIGHUP', 'SIGUSR1', 'SIGUSR2'] as const
export interface SignalMessage { smooth: typeof TAG; act: 'signal'; signal: (typeof ForwardedSignals)[number] }
export type FromWorker = MetricsReply | StatsReply | ReadyMessage | AcceptingMessage | ControlMessage | DrainedMessage | PressureMessage | PongMessage | SignalMessage

export function isSmoothMessage<T extends { smooth: typeof TAG }>(msg: unknown): msg is T {
  return typeof msg === 'object' && msg !== null && (msg as { smooth?: unknown }).smooth === TAG
}

/**
 * Status channel between a successor primary and the generation before it: newline-delimited JSON
 * over TCP on 127.0.0.1. The old primary listens on a random port and hands the address and a random
 * one-time token to the successor in its environment; the first frame must be a `hello` carrying the
 * token, or the connection is refused and logged.
 *
 *   new --hello{token, pid, generation}--> old     old --welcome{counters, history}--> new
 *   new --workerReady{workerPid}---------> old     old --retired{workerPid}--> new  (one per new worker)
 *   new --ready--------------------------> old     (old watches the successor for SETTLE_MS, then:)
 *                                                  old --handover----------> new  (old stops, drains, exits)
 *   new --workerDied{workerPid}----------> old     (before the handover: the old one rolls back)
 *   new --failed{code, message}----------> old     (a successor that cannot start says why)
 *   either --metricsAsk{id}--> other --metricsOwn{id, metrics}--> (a scrape during the overlap:
 *            each side adds the other's worker counters, so both answer the same totals)
 * `handover` carries the old generation's final worker counters, which the successor keeps.
 */
export interface Counters { restarts: number; reloads: number; workerCrashes: number; rolloutFailures: number; metrics?: unknown }

export type SuccessorFrame =
  | { t: 'hello'; token: string; pid: number; generation: number }
  | { t: 'workerReady'; workerPid: number }
  | { t: 'workerDied'; workerPid: number; code: number | null }
  | { t: 'ready' }
  | { t: 'failed'; code: string; message: string }
  | MetricsFrame

export type PredecessorFrame =
  | { t: 'welcome'; counters: Counters; history: unknown[]; restart: unknown }
  | { t: 'retired'; workerPid: number | null }
  | { t: 'handover'; metrics?: unknown[] }
  | MetricsFrame

export type MetricsFrame =
  | { t: 'metricsAsk'; id: number }
  | { t: 'metricsOwn'; id: number; metrics: unknown[] }

/**
 * Primary <-> anchor IPC. The anchor spawns every generation, so it can wait for each one's exit and
 * stay the stable pid supervisors watch.
 */
export interface SpawnRequest {
  smooth: typeof TAG; act: 'spawn'; id: number
  command: string; args: string[]; env: Record<string, string>
  /** Where it starts (resolved by the primary at the moment of the restart). */
  cwd: string
  /** Listener keys, in the order of the handles sent just before with `fd` messages. */
  keys: string[]
}
export interface FdMessage { smooth: typeof TAG; act: 'fd'; key: string }
export interface HandoverNotice { smooth: typeof TAG; act: 'handover'; toPid: number }
/** The first primary's resolved settings the anchor needs: the pid file (written, with the anchor's pid) and the log level. */
export interface ConfigNotice { smooth: typeof TAG; act: 'config'; pidFile?: string; logLevel: string }
export type ToAnchor = SpawnRequest | FdMessage | HandoverNotice | ConfigNotice

export interface SpawnedReply { smooth: typeof TAG; act: 'spawned'; id: number; pid: number }
export interface SpawnFailedReply { smooth: typeof TAG; act: 'spawnFailed'; id: number; message: string }
export interface ChildExitNotice { smooth: typeof TAG; act: 'childExit'; id: number; pid: number; code: number | null; signal: string | null }
export type FromAnchor = SpawnedReply | SpawnFailedReply | ChildExitNotice
