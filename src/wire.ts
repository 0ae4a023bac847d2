/**
 * The wire: every constant one Smooth process hands another, in one place (tableflip's parent.go
 * keeps its sentinel variable, ready byte and descriptor numbers together the same way). Three kinds
 * of process talk: the anchor (stable pid), primaries (one per generation) and their workers.
 *
 *  - Environment: a child learns what it is only from the variables named in EnvNames.
 *  - Descriptors: a new generation inherits the listening sockets as fds FD_BASE, FD_BASE + 1, ...
 *  - IPC: every message is a plain object tagged `smooth: TAG` (never mixed with the user's own
 *    process.send traffic) with a sequence number `seq`; a reply names the request it answers by
 *    `ack` (node's lib/internal/cluster sendHelper/internal()). `send` and `ReplyRouter` below are the
 *    only code that writes the tag or matches a reply. The messages themselves: src/protocol.ts.
 *  - Signals: which the anchor forwards, which a worker forwards, which the primary acts on.
 */
export const EnvNames = {
  /** 'worker' in a process forked by a primary. */
  role: 'SMOOTH_ROLE',
  /** Generation number of the primary (1 for the first one, +1 per restart). */
  generation: 'SMOOTH_GENERATION',
  /** Comma-separated names of the servers a worker must start before it is ready. */
  servers: 'SMOOTH_SERVERS',
  /** Worker id assigned by the primary (stable for the worker's life, never reused in a generation). */
  workerId: 'SMOOTH_WORKER_ID',
  /** 127.0.0.1:port of the previous generation's status channel (successors only). */
  statusAddr: 'SMOOTH_STATUS_ADDR',
  /** One-time token the successor must present on the status channel. */
  statusToken: 'SMOOTH_STATUS_TOKEN',
  /** Where a successor's uncaught start-up error is written, for the previous generation to report. */
  failureFile: 'SMOOTH_FAILURE_FILE',
  /** Set in primaries started by an anchor (the anchor's pid, and the pid file it writes). */
  anchorPid: 'SMOOTH_ANCHOR_PID',
  /** The per-service admin session secret, handed from a primary to its successor (base64). */
  adminSecret: 'SMOOTH_ADMIN_SECRET',
  /** What workers check admin credentials with instead of the token (admin/credentials.ts). */
  adminVerifier: 'SMOOTH_ADMIN_VERIFIER',
  /** "1" in a successor a primary started itself because its anchor had died (shown in /status). */
  anchorGone: 'SMOOTH_ANCHOR_GONE',
  anchorPidFile: 'SMOOTH_ANCHOR_PID_FILE',
  /** "0" turns the anchor off: the process the user started is the first primary. */
  anchor: 'SMOOTH_ANCHOR',
  /** The entry and working directory the server was started with, symlinks kept (primary/launch.ts). */
  entry: 'SMOOTH_ENTRY',
  appDir: 'SMOOTH_APP_DIR',
  /** The listener table a primary hands its workers (env.ts: listenerTable). */
  listeners: 'SMOOTH_LISTENERS',
  /** Listening sockets a successor inherits, and the ports a full restart binds (primary/listeners.ts). */
  inheritFds: 'SMOOTH_INHERIT_FDS',
  boundPorts: 'SMOOTH_BOUND_PORTS',
  /** Set by the user, besides the config keys' own (config/keys.ts): the config file to read, and JSON logs on a terminal. */
  configFile: 'SMOOTH_CONFIG',
  logJson: 'SMOOTH_LOG_JSON',
} as const

/** Handed only from one primary to its successor: a successor takes them out of its environment at once. */
export const SuccessorOnlyEnv = [EnvNames.statusAddr, EnvNames.statusToken, EnvNames.failureFile, EnvNames.inheritFds, EnvNames.boundPorts] as const

/** A new generation's first inherited listening socket (after stdin, stdout, stderr). */
export const FD_BASE = 3

/** The marker of our IPC messages. */
export const TAG = 1 as const

/** Signals that stop the server (gracefully). */
export const ShutdownSignals = ['SIGINT', 'SIGTERM', 'SIGQUIT', 'SIGHUP'] as const
/** SIGUSR1 restarts (a new generation), SIGUSR2 reloads (new workers). */
export const RestartSignal = 'SIGUSR1'
export const ReloadSignal = 'SIGUSR2'
/** SIGTTIN adds a worker, SIGTTOU removes one (Unicorn's signals). */
export const ScaleSignals = { SIGTTIN: '+1', SIGTTOU: '-1' } as const
/** What a worker passes on to its primary: everything but scaling, which only the primary decides. */
export const WorkerForwardedSignals = [...ShutdownSignals, RestartSignal, ReloadSignal] as const
/** What the anchor passes on to the live primary: all of it. */
export const AnchorForwardedSignals = [...WorkerForwardedSignals, 'SIGTTIN', 'SIGTTOU'] as const
/** Signals that mean "stop": a shutdown already under way needs no echo of them. */
export function isShutdownSignal(signal: string): boolean {
  return (ShutdownSignals as readonly string[]).includes(signal)
}

/** What every message carries: the tag, and the sender's sequence number. */
export interface Tagged { smooth: typeof TAG; seq?: number }
/** A message as its sender writes it: `send` adds the tag and the sequence number. */
export type Unsent<M> = M extends Tagged ? Omit<M, 'smooth' | 'seq'> : never

export function isSmoothMessage<T extends Tagged>(msg: unknown): msg is T {
  return typeof msg === 'object' && msg !== null && (msg as { smooth?: unknown }).smooth === TAG
}

/** The IPC end of a process: a ChildProcess, a cluster worker's process, or `process` itself. */
export interface IpcEnd {
  connected?: boolean
  send?(message: unknown, sendHandle?: unknown, options?: object, callback?: (error: Error | null) => void): boolean
}

let lastSeq = 0

/**
 * Sends `msg` tagged and numbered; returns its sequence number (what a reply's `ack` names). A
 * closed channel is not an error here: `cb` gets one, and the message is dropped.
 */
export function send<M extends Tagged>(to: IpcEnd, msg: Unsent<M>, handle?: unknown, cb?: (err: Error | null) => void): number {
  const seq = ++lastSeq
  if (!to.send || to.connected === false) {
    cb?.(new Error('channel closed'))
    return seq
  }
  try {
    to.send({ ...msg, smooth: TAG, seq }, handle, {}, (err) => cb?.(err ?? null))
  } catch (err) {
    cb?.(err as Error)
  }
  return seq
}

/**
 * Matches replies to requests by sequence number. `expect(seq)` is called right after `send` returned
 * `seq`; `route(msg)` is given every incoming message and takes the ones that answer a pending
 * request (true), so two requests in flight never take each other's replies.
 */
export class ReplyRouter<R extends { ack: number }> {
  private readonly pending = new Map<number, (reply: R) => void>()

  expect(seq: number, onReply: (reply: R) => void): () => void {
    this.pending.set(seq, onReply)
    return () => this.pending.delete(seq)
  }

  route(msg: unknown): boolean {
    const ack = (msg as { ack?: unknown }).ack
    if (typeof ack !== 'number') return false
    const onReply = this.pending.get(ack)
    if (!onReply) return false
    this.pending.delete(ack)
    onReply(msg as R)
    return true
  }

  get size(): number {
    return this.pending.size
  }
}
