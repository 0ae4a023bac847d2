/**
 * The configuration keys, mirroring GoFrame's server config. One table drives the JSON schema, the
 * environment variable names (SMOOTH_ + upper snake case) and the README's key list.
 * Durations are seconds as a number, or a string with a unit: "500ms", "2s", "1m". Sizes are bytes as a
 * number, or a string with a binary unit as PM2 reads them: "512MB" (or "512M") = 512 × 2^20 bytes.
 */
export type KeyKind = 'addresses' | 'string' | 'boolean' | 'integer' | 'count' | 'duration' | 'bytes' | 'object' | 'fastify' | 'share' | 'canary'

export interface KeySpec {
  kind: KeyKind
  /** Process-wide keys are shared by every server of the process (they share the workers). */
  scope: 'server' | 'process'
  description: string
}

export const ConfigKeys = {
  address: { kind: 'addresses', scope: 'server', description: 'HTTP listen addresses, e.g. ":8199" or "127.0.0.1:8100,:8200"' },
  httpsAddr: { kind: 'addresses', scope: 'server', description: 'HTTPS listen addresses; when empty and a certificate is set, `address` serves HTTPS' },
  httpsCertPath: { kind: 'string', scope: 'server', description: 'PEM certificate file' },
  httpsKeyPath: { kind: 'string', scope: 'server', description: 'PEM private key file' },
  http2: { kind: 'boolean', scope: 'server', description: 'serve HTTP/2 over TLS (ALPN h2; every listener of the server must be HTTPS); drains with GOAWAY' },
  graceful: { kind: 'boolean', scope: 'process', description: 'enable smooth restart and reload (off by default, as in GoFrame)' },
  gracefulTimeout: { kind: 'duration', scope: 'process', description: 'how long one worker may drain during a rollout before it is forced' },
  gracefulShutdownTimeout: { kind: 'duration', scope: 'process', description: 'how long the whole process may drain on shutdown before it is forced' },
  fullRestart: { kind: 'boolean', scope: 'process', description: 'restart without inheriting sockets: stop accepting, drain, then the new generation binds (connections are refused in between; forced on Windows)' },
  handOffConnections: { kind: 'boolean', scope: 'process', description: 'a draining worker hands its idle plain-HTTP/1.1 keep-alive connections to a ready worker (the new generation in a restart) instead of closing them (default: true)' },
  readyTimeout: { kind: 'duration', scope: 'process', description: 'how long a new worker may take to become ready before a rollout gives up on it' },
  workers: { kind: 'integer', scope: 'process', description: 'worker processes (default: os.availableParallelism())' },
  surge: { kind: 'share', scope: 'process', description: 'new workers a rollout starts ahead of retiring old ones: a number, or a percentage of `workers` (default: "100%", every worker side by side; 1 replaces one at a time)' },
  canary: { kind: 'canary', scope: 'process', description: 'canary rollouts (--canary, canary=1, s.reload({ canary })): enabled (every reload and restart, signals too), window, minRequests, share, maxErrorRatio, maxErrorRatioVsOld, maxLatencyRatio, minLatency, check (a URL, or a function in code)' },
  adminPattern: { kind: 'string', scope: 'server', description: 'route prefix of the admin page and API when admin is enabled' },
  adminAddress: { kind: 'addresses', scope: 'process', description: 'a separate address for the admin page and API, served by the primary (e.g. "127.0.0.1:9001")' },
  adminExeAllowList: { kind: 'addresses', scope: 'process', description: 'directories a newExeFilePath given to the admin must resolve into (default: the app root)' },
  adminToken: { kind: 'string', scope: 'process', description: 'Bearer token required by the admin API (without one, admin answers direct loopback requests only, not relayed ones)' },
  adminHosts: { kind: 'addresses', scope: 'process', description: 'with a token: Host names admin answers to besides loopback ones ("name" or "name:port"; "*" for any); default: the hosts of the listen addresses' },
  metricsAccess: { kind: 'string', scope: 'process', description: 'who may read metricsPath on the app ports: "admin" (the admin rule), "local" (direct loopback requests), "open" (anyone)' },
  pidFile: { kind: 'string', scope: 'process', description: 'file the pid is written to' },
  logLevel: { kind: 'string', scope: 'process', description: 'pino level: fatal, error, warn, info, debug, trace' },
  metrics: { kind: 'boolean', scope: 'process', description: 'Prometheus metrics on the app ports (metricsPath) and the admin address' },
  metricsPath: { kind: 'string', scope: 'server', description: 'path of the metrics endpoint on the app ports' },
  nodeMetrics: { kind: 'boolean', scope: 'process', description: 'prom-client\'s default Node metrics (process_*, nodejs_*) of every worker, labelled by worker, in /metrics (off by default: the primary\'s own are always there)' },
  readTimeout: { kind: 'duration', scope: 'server', description: 'time allowed to receive a whole request (0 = none)' },
  idleTimeout: { kind: 'duration', scope: 'server', description: 'keep-alive idle timeout' },
  workerTimeout: { kind: 'duration', scope: 'process', description: 'a worker whose event loop has not answered the primary for this long is killed (SIGKILL) and replaced (0 = off)' },
  maxWorkerMemory: { kind: 'bytes', scope: 'process', description: 'a worker whose RSS stays above this is recycled: a replacement is ready first, then it drains (0 = off)' },
  maxWorkerRequests: { kind: 'count', scope: 'process', description: 'a worker is recycled after answering this many requests (0 = off)' },
  maxWorkerAge: { kind: 'duration', scope: 'process', description: 'a worker is recycled after running this long (0 = off)' },
  underPressure: { kind: 'object', scope: 'server', description: '@fastify/under-pressure limits: maxEventLoopDelay, maxHeapUsedBytes, maxRssBytes, maxEventLoopUtilization, retryAfter, sampleInterval' },
  fastify: { kind: 'fastify', scope: 'server', description: 'Fastify constructor options (trustProxy, bodyLimit, …); those Smooth owns (logger, https, http2, serverFactory, keepAliveTimeout, requestTimeout) are refused, naming the Smooth key to use' },
} as const satisfies Record<string, KeySpec>

export type ConfigKey = keyof typeof ConfigKeys

export interface UnderPressureLimits {
  maxEventLoopDelay?: number
  maxHeapUsedBytes?: number
  maxRssBytes?: number
  maxEventLoopUtilization?: number
  retryAfter?: number
  /** How often under-pressure samples, in ms (its default: 1000). */
  sampleInterval?: number
}

/** The `canary` section as written (primary/canary.ts has what each setting means). */
export interface CanaryConfig {
  enabled?: boolean
  window?: number | string
  minRequests?: number
  share?: number | string
  maxErrorRatio?: number
  maxErrorRatioVsOld?: number
  maxLatencyRatio?: number
  minLatency?: number | string
  /** A URL that must answer 2xx, or (in code) a function answering true, for the canary to be promoted. */
  check?: string | ((figures: { canary: unknown; old: unknown }) => boolean | Promise<boolean>)
}

/** One layer of settings as written by a user (file, environment or code). */
export interface ServerSettings {
  address?: string | string[]
  httpsAddr?: string | string[]
  httpsCertPath?: string
  httpsKeyPath?: string
  http2?: boolean
  graceful?: boolean
  gracefulTimeout?: number | string
  gracefulShutdownTimeout?: number | string
  fullRestart?: boolean
  handOffConnections?: boolean
  readyTimeout?: number | string
  workers?: number
  surge?: number | string
  adminPattern?: string
  adminAddress?: string | string[]
  adminExeAllowList?: string | string[]
  adminToken?: string
  adminHosts?: string | string[]
  metricsAccess?: string
  pidFile?: string
  logLevel?: string
  metrics?: boolean
  metricsPath?: string
  nodeMetrics?: boolean
  readTimeout?: number | string
  idleTimeout?: number | string
  workerTimeout?: number | string
  maxWorkerMemory?: number | string
  maxWorkerRequests?: number
  maxWorkerAge?: number | string
  underPressure?: UnderPressureLimits
  canary?: CanaryConfig
  /** Fastify constructor options; merged key by key across layers (file < env < code). */
  fastify?: Record<string, unknown>
}

export const MetricsAccess = ['admin', 'local', 'open'] as const

export const LogLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const

export function envName(key: string): string {
  return 'SMOOTH_' + key.replace(/[A-Z]/g, (c) => '_' + c).toUpperCase()
}
