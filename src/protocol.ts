/**
 * Every message between a primary and its workers, in one place (node's `internal/cluster` style).
 * Messages are plain JSON objects discriminated on `act`; wire.ts's `send` tags them (`smooth`, `seq`)
 * so they never mix with the user's own `process.send` traffic, and a reply names its request by `ack`.
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
 *   worker  --handOff{id, server} + connection handle--------> primary (draining: an idle keep-alive
 *   primary --adopt{id, server} + connection handle----------> worker   connection moves to a ready
 *   worker  --adopted{id, ok}--------------------------------> primary  worker; in a restart through the
 *   primary --handedOff{id, outcome}-------------------------> worker   anchor: worker/handoff.ts)
 *
 * The listening sockets stay open in the primary the whole time; a worker accepts from its own
 * duplicate of each, so there is no per-connection message at all (see primary/listeners.ts).
 */

import { TAG, WorkerForwardedSignals, isSmoothMessage, type Tagged } from './wire.js'
import type { MetricsJson, CarriedCounters } from './metrics/primary-metrics.js'
import type { RolloutRecord } from './primary/rollout.js'

// Declared in the wire module; re-exported for the code that reads the messages with them.
export { TAG, isSmoothMessage }

export type ControlCommand = 'shutdown' | 'reload' | 'restart' | 'status' | 'metrics' | 'ready' | 'scale'

// primary -> worker
export interface ListenMessage extends Tagged { act: 'listen'; listener: number }
export interface AcceptMessage extends Tagged { act: 'accept' }
/** `handOff`: pass idle keep-alive connections to ready workers (a rollout), rather than close them (a shutdown). */
export interface DrainMessage extends Tagged { act: 'drain'; timeoutMs: number; handOff?: boolean }
/** An idle keep-alive connection handed over by a draining worker: serve it as `server`'s. `id` is the hop's own. */
export interface AdoptMessage extends Tagged { act: 'adopt'; id: number; server: string }
/**
 * What became of a handed connection: 'adopted' (a ready worker serves it), 'refused' (every other copy
 * is closed unread: the sender may serve it again), 'unknown' (no answer in time: the sender only closes its copy).
 */
export type HandOffOutcome = 'adopted' | 'refused' | 'unknown'
export interface HandedOffMessage extends Tagged { act: 'handedOff'; id: number; outcome: HandOffOutcome }
export interface ControlReplyMessage extends Tagged {
  act: 'controlReply'; ack: number
  ok: boolean; status: number; body: unknown
}
export interface StatsRequest extends Tagged { act: 'stats' }
export interface MetricsRequest extends Tagged { act: 'metrics' }
/** Stop accepting new connections (under pressure while others are healthy); `listen` + `accept` resume. */
export interface PauseMessage extends Tagged { act: 'pause' }
/** The heartbeat: answered with `pong` by the worker's event loop (see primary/watchdog.ts). */
export interface PingMessage extends Tagged { act: 'ping' }
export type ToWorker = ListenMessage | AcceptMessage | DrainMessage | ControlReplyMessage | StatsRequest | MetricsRequest | PauseMessage | PingMessage
  | AdoptMessage | HandedOffMessage

// worker -> primary
export interface ReadyMessage extends Tagged { act: 'ready' }
export interface AcceptingMessage extends Tagged { act: 'accepting' }
export interface ControlMessage extends Tagged {
  act: 'control'; command: ControlCommand
  args: Record<string, string | undefined>
}
/** `metrics`: the worker's final registry dump, so its counts outlive it (see metrics/ledger.ts). */
export interface DrainedMessage extends Tagged {
  act: 'drained'; forced: number; metrics?: MetricsJson
  /** Connections handed to another worker, and closed (by reason), during this drain. */
  handedOver?: number; closed?: Record<string, number>
}
/** A draining worker passes an idle keep-alive connection of `server` with this message. */
export interface HandOffMessage extends Tagged { act: 'handOff'; id: number; server: string }
/** `ok: false`: not adopted, and the receiver's copy is closed unread. */
export interface AdoptedMessage extends Tagged { act: 'adopted'; id: number; ok: boolean }
export interface WorkerStats { connections: number; inflight: number; rss: number; heapUsed: number }
/** `requests`: answered so far (counted only when maxWorkerRequests is set, else 0). */
export interface PongMessage extends Tagged { act: 'pong'; stats: WorkerStats; requests: number }
export interface StatsReply extends Tagged { act: 'statsReply'; ack: number; stats: WorkerStats }
export interface MetricsReply extends Tagged { act: 'metricsReply'; ack: number; metrics: MetricsJson }
/** Sent when the worker goes under pressure (@fastify/under-pressure limits) or recovers. */
export interface PressureMessage extends Tagged { act: 'pressure'; under: boolean }
/** A signal the worker received, for the primary to act on as if sent to it. */
export interface SignalMessage extends Tagged { act: 'signal'; signal: (typeof WorkerForwardedSignals)[number] }
export type FromWorker = MetricsReply | StatsReply | ReadyMessage | AcceptingMessage | ControlMessage | DrainedMessage | PressureMessage | PongMessage | SignalMessage
  | HandOffMessage | AdoptedMessage

/**
 * Status channel between a successor primary and the generation before it: newline-delimited JSON
 * over TCP on 127.0.0.1. The old primary listens on a random port and hands the address and a random
 * one-time token to the successor in its environment; the first frame must be a `hello` carrying the
 * token, or the connection is refused and logged.
 *
 *   new --hello{token, pid, generation}--> old     old --welcome{counters, history, pid}--> new
 *   new --workerReady{workerPid}---------> old     old --retired{workerPid}--> new  (one per new worker)
 *   new --ready--------------------------> old     (old watches the successor for SETTLE_MS, then:)
 *                                                  old --handover----------> new  (old stops, drains, exits)
 *   new --workerDied{workerPid}----------> old     (before the handover: the old one rolls back)
 *   new --failed{code, message}----------> old     (a successor that cannot start says why)
 *   either --metricsAsk{id}--> other --metricsOwn{id, metrics}--> (a scrape during the overlap:
 *            each side adds the other's worker counters, so both answer the same totals)
 * `handover` carries the old generation's final worker counters, which the successor keeps.
 */
export interface Counters { restarts: number; reloads: number; workerCrashes: number; rolloutFailures: number; metrics?: CarriedCounters }

export type SuccessorFrame =
  | { t: 'hello'; token: string; pid: number; generation: number }
  | { t: 'workerReady'; workerPid: number }
  | { t: 'workerDied'; workerPid: number; code: number | null }
  | { t: 'ready' }
  | { t: 'failed'; code: string; message: string }
  /** A restart's canary, as it is watched and decided (primary/canary-restart.ts). */
  | { t: 'canary'; view: unknown }
  | MetricsFrame

export type PredecessorFrame =
  | { t: 'welcome'; counters: Counters; history: RolloutRecord[]; restart?: RolloutRecord; pid?: number }
  | { t: 'retired'; workerPid: number | null; connections?: { handedOver: number; closed: Record<string, number> } }
  | { t: 'handover'; metrics?: MetricsJson }
  | MetricsFrame

export type MetricsFrame =
  | { t: 'metricsAsk'; id: number }
  | { t: 'metricsOwn'; id: number; metrics: MetricsJson }

/**
 * Primary <-> anchor IPC. The anchor spawns every generation, so it can wait for each one's exit and
 * stay the stable pid supervisors watch.
 */
export interface SpawnRequest extends Tagged {
  act: 'spawn'
  command: string; args: string[]; env: Record<string, string>
  /** Where it starts (resolved by the primary at the moment of the restart). */
  cwd: string
  /** Listener keys, in the order of the handles sent just before with `fd` messages. */
  keys: string[]
}
export interface FdMessage extends Tagged { act: 'fd'; key: string }
export interface HandoverNotice extends Tagged { act: 'handover'; toPid: number }
/** The first primary's resolved settings the anchor needs: the pid file (written, with the anchor's pid) and the log level. */
export interface ConfigNotice extends Tagged { act: 'config'; pidFile?: string; logLevel: string }
/**
 * A restart's connection hand-off: the old primary passes a connection handle for its successor
 * (`toPid`), which answers with `relayConnAck` for the old one (`toPid` again): the anchor relays both.
 */
export interface RelayConn extends Tagged { act: 'relayConn'; toPid: number; id: number; server: string }
export interface RelayConnAck extends Tagged { act: 'relayConnAck'; toPid: number; id: number; outcome: HandOffOutcome }
export type ToAnchor = SpawnRequest | FdMessage | HandoverNotice | ConfigNotice | RelayConn | RelayConnAck

export interface SpawnedReply extends Tagged { act: 'spawned'; ack: number; pid: number }
export interface SpawnFailedReply extends Tagged { act: 'spawnFailed'; ack: number; message: string }
/** `spawn`: the sequence number of the spawn request that started it. */
export interface ChildExitNotice extends Tagged { act: 'childExit'; spawn: number; pid: number; code: number | null; signal: string | null }
/** A connection handle relayed from the previous generation's primary (`fromPid`), and the answer to one we sent. */
export interface ConnNotice extends Tagged { act: 'conn'; fromPid: number; id: number; server: string }
export interface ConnAckNotice extends Tagged { act: 'connAck'; id: number; outcome: HandOffOutcome }
export type FromAnchor = SpawnedReply | SpawnFailedReply | ChildExitNotice | ConnNotice | ConnAckNotice
