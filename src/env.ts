/**
 * The environment variables one Smooth process hands to another. They are the only way a worker
 * learns what it is, so they are declared here together, like tableflip's wire constants.
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
  /** The listener table a primary hands its workers (below). */
  listeners: 'SMOOTH_LISTENERS',
  /** Listening sockets a successor inherits, and the ports a full restart binds (primary/listeners.ts). */
  inheritFds: 'SMOOTH_INHERIT_FDS',
  boundPorts: 'SMOOTH_BOUND_PORTS',
} as const

export const env = {
  role(): 'worker' | 'primary' | undefined {
    const r = process.env[EnvNames.role]
    return r === 'worker' || r === 'primary' ? r : undefined
  },
  generation(): number {
    const n = Number(process.env[EnvNames.generation])
    return Number.isInteger(n) && n > 0 ? n : 1
  },
  servers(): string[] {
    return (process.env[EnvNames.servers] ?? '').split(',').filter(Boolean)
  },
  workerId(): number {
    return Number(process.env[EnvNames.workerId] ?? 0)
  },
}

/** The listener table a primary hands its workers: index -> server name and protocol. */
export interface ListenerRef { index: number; server: string; protocol: 'http' | 'https' }
export const ListenersEnv = EnvNames.listeners
export function listenerTable(): ListenerRef[] {
  const raw = process.env[ListenersEnv]
  return raw ? (JSON.parse(raw) as ListenerRef[]) : []
}
