import { availableParallelism, platform } from 'node:os'
import { readFileSync } from 'node:fs'
import { createSecureContext } from 'node:tls'
import { SmoothError } from '../errors.js'
import { ConfigKeys, type MetricsAccess, type ServerSettings, type UnderPressureLimits } from './keys.js'
import { checkSettings, toBytes, toMs } from './schema.js'
import { canaryDefaults, type CanarySettings } from '../primary/canary.js'
import { parseAddresses, type ListenAddress } from './address.js'
import { findConfigFile, loadConfigFile, loadEnvSettings, type FileConfig } from './load.js'

export type Protocol = 'http' | 'https'

export interface ListenerSpec extends ListenAddress {
  /** Index in the process-wide listener table; the worker uses it to pick the server. */
  index: number
  server: string
  protocol: Protocol
  /** Identifies the listener across generations: "http://:8199". */
  key: string
}

export interface ResolvedServer {
  name: string
  listeners: ListenerSpec[]
  tls?: { certPath: string; keyPath: string }
  /** HTTP/2 over TLS only (ALPN h2). */
  http2: boolean
  adminPattern?: string
  /** Where /metrics is served on this server's ports (undefined: not served). */
  metricsPath?: string
  readTimeoutMs: number
  idleTimeoutMs: number
  underPressure: UnderPressureLimits
  /** Fastify constructor options of the user (validated: none of those Smooth owns). */
  fastify: Record<string, unknown>
}

export interface ResolvedProcess {
  workers: number
  /** New workers a rollout starts ahead of retiring old ones (1..workers). */
  surge: number
  graceful: boolean
  gracefulTimeoutMs: number
  gracefulShutdownTimeoutMs: number
  readyTimeoutMs: number
  /** Restart without passing the sockets (Windows, or by choice). */
  fullRestart: boolean
  /** Idle plain-HTTP/1.1 connections of a draining worker move to a ready worker (worker/handoff.ts). */
  handOffConnections: boolean
  metrics: boolean
  /** prom-client's default metrics in every worker (off: the workers never load prom-client). */
  nodeMetrics: boolean
  adminToken?: string
  /** A separate admin listener served by the primary. */
  adminAddress?: ListenerSpec
  adminExeAllowList: string[]
  /** With a token: Host names admin answers to besides loopback ones. */
  adminHosts: string[]
  /** Who may read the metrics path on the app ports. */
  metricsAccess: typeof MetricsAccess[number]
  pidFile?: string
  logLevel: string
  configFile?: string
  /** A worker silent this long is killed and replaced (0 = off). */
  workerTimeoutMs: number
  /** Recycling limits (0 = off): RSS in bytes, requests answered, time since ready. */
  maxWorkerMemory: number
  maxWorkerRequests: number
  maxWorkerAgeMs: number
  /** Canary rollouts: their settings, and whether every rollout (signals included) runs as one. */
  canary: { enabled: boolean; settings: CanarySettings }
}

export interface ResolvedConfig {
  process: ResolvedProcess
  servers: ResolvedServer[]
  listeners: ListenerSpec[]
}

export const Defaults = {
  gracefulTimeoutMs: 30_000,
  gracefulShutdownTimeoutMs: 30_000,
  readyTimeoutMs: 60_000,
  readTimeoutMs: 0,
  idleTimeoutMs: 60_000,
  logLevel: 'info',
  workerTimeoutMs: 30_000,
  /**
   * Every worker side by side: a reload takes one boot and one drain whatever N (`npm run bench`'s
   * surge part: reload of 4 workers about half the time of surge 1), at the price of up to 2N worker
   * processes while it runs.
   */
  surge: '100%',
}

const PROCESS_KEYS = Object.entries(ConfigKeys).filter(([, s]) => s.scope === 'process').map(([k]) => k)

export interface CodeServer { name: string; settings: ServerSettings }

/**
 * Merges defaults < file < environment < code into one validated config. Throws a SmoothError that
 * names the offending key, variable or path; nothing has been started when it throws.
 */
export function resolveConfig(code: CodeServer[], env = process.env, file?: FileConfig): ResolvedConfig {
  const fileCfg = file ?? loadConfigFile(findConfigFile(env))
  const envCfg = loadEnvSettings(env)
  const where = fileCfg.path ?? 'the config file'
  for (const name of Object.keys(fileCfg.named)) {
    if (!code.some((s) => s.name === name)) {
      throw new SmoothError('SMOOTH_CONFIG_UNKNOWN_KEY', `"server.${name}" in ${where}: no server named "${name}" is started by this program`)
    }
    for (const k of PROCESS_KEYS) {
      if (k in fileCfg.named[name]!) {
        throw new SmoothError('SMOOTH_CONFIG_INVALID', `"server.${name}.${k}" is process-wide: set it under "server" (in ${where})`)
      }
    }
  }
  for (const s of code) checkSettings(s.settings, `the code of server "${s.name}"`)

  // Process-wide keys: code (any server, last wins) > env > file.
  const proc: ServerSettings = { ...fileCfg.base, ...envCfg }
  for (const s of code) {
    for (const k of PROCESS_KEYS) {
      const v = (s.settings as Record<string, unknown>)[k]
      if (v !== undefined) (proc as Record<string, unknown>)[k] = v
    }
  }

  const listeners: ListenerSpec[] = []
  const servers: ResolvedServer[] = code.map((s) => {
    const merged: ServerSettings = { ...fileCfg.base, ...fileCfg.named[s.name], ...envCfg, ...s.settings }
    merged.fastify = { ...fileCfg.base.fastify, ...fileCfg.named[s.name]?.fastify, ...envCfg.fastify, ...s.settings.fastify }
    return resolveServer(s.name, merged, listeners)
  })

  const seen = new Map<string, string>()
  for (const l of listeners) {
    const other = seen.get(`${l.host ?? ''}:${l.port}`)
    if (other && l.port !== 0) {
      throw new SmoothError('SMOOTH_CONFIG_INVALID', `address ${l.text} is used twice (servers "${other}" and "${l.server}")`)
    }
    seen.set(`${l.host ?? ''}:${l.port}`, l.server)
  }

  const workers = proc.workers ?? availableParallelism()
  const process: ResolvedProcess = {
    workers,
    surge: surgeOf(proc.surge ?? Defaults.surge, workers),
    graceful: proc.graceful ?? false,
    gracefulTimeoutMs: toMs(proc.gracefulTimeout, Defaults.gracefulTimeoutMs),
    gracefulShutdownTimeoutMs: toMs(proc.gracefulShutdownTimeout, Defaults.gracefulShutdownTimeoutMs),
    readyTimeoutMs: toMs(proc.readyTimeout, Defaults.readyTimeoutMs),
    fullRestart: proc.fullRestart ?? platform() === 'win32',
    handOffConnections: proc.handOffConnections ?? true,
    metrics: proc.metrics ?? true,
    nodeMetrics: proc.nodeMetrics ?? false,
    logLevel: proc.logLevel ?? Defaults.logLevel,
    adminExeAllowList: list(proc.adminExeAllowList),
    // Default: the names the servers are configured to listen on (a wildcard address names nothing).
    adminHosts: proc.adminHosts !== undefined ? list(proc.adminHosts)
      : [...new Set(listeners.map((l) => l.host).filter((h): h is string => Boolean(h) && h !== '0.0.0.0' && h !== '::')
        .map((h) => (h.includes(':') ? `[${h}]` : h)))],
    metricsAccess: (proc.metricsAccess ?? 'admin') as ResolvedProcess['metricsAccess'],
    workerTimeoutMs: toMs(proc.workerTimeout, Defaults.workerTimeoutMs),
    maxWorkerMemory: toBytes(proc.maxWorkerMemory),
    maxWorkerRequests: proc.maxWorkerRequests ?? 0,
    maxWorkerAgeMs: toMs(proc.maxWorkerAge, 0),
    canary: { enabled: proc.canary?.enabled ?? false, settings: canarySettings(proc.canary ?? {}) },
  }
  if (proc.adminToken) process.adminToken = proc.adminToken
  const adminAddr = parseAddresses(proc.adminAddress)
  if (adminAddr.length > 1) throw new SmoothError('SMOOTH_CONFIG_INVALID', '"adminAddress" takes one address')
  if (adminAddr[0]) {
    const pattern = servers.find((s) => s.adminPattern)?.adminPattern ?? '/debug/admin'
    process.adminAddress = { ...adminAddr[0], index: -1, server: pattern, protocol: 'http', key: `admin://${adminAddr[0].text}` }
  }
  if (proc.pidFile) process.pidFile = proc.pidFile
  if (fileCfg.path) process.configFile = fileCfg.path
  return { process, servers, listeners }
}

/** The `canary` section over the defaults (canary.ts says why each default is what it is). */
export function canarySettings(c: NonNullable<ServerSettings['canary']>, base: CanarySettings = canaryDefaults): CanarySettings {
  const out: CanarySettings = {
    windowMs: toMs(c.window, base.windowMs),
    minRequests: c.minRequests ?? base.minRequests,
    share: c.share ?? base.share,
    maxErrorRatio: c.maxErrorRatio ?? base.maxErrorRatio,
    maxErrorRatioVsOld: c.maxErrorRatioVsOld ?? base.maxErrorRatioVsOld,
    maxLatencyRatio: c.maxLatencyRatio ?? base.maxLatencyRatio,
    minLatencyMs: toMs(c.minLatency, base.minLatencyMs),
  }
  const check = c.check ?? base.check
  if (check) out.check = check
  return out
}

function list(v: string | string[] | undefined): string[] {
  return (Array.isArray(v) ? v : v?.split(',') ?? []).map((d) => d.trim()).filter(Boolean)
}

function resolveServer(name: string, s: ServerSettings, listeners: ListenerSpec[]): ResolvedServer {
  const hasCert = Boolean(s.httpsCertPath || s.httpsKeyPath)
  let http = parseAddresses(s.address)
  let https = parseAddresses(s.httpsAddr)
  // GoFrame: with a certificate and no httpsAddr, `address` serves HTTPS.
  if (hasCert && https.length === 0) {
    https = http
    http = []
  }
  if (https.length > 0 && !(s.httpsCertPath && s.httpsKeyPath)) {
    throw new SmoothError('SMOOTH_CONFIG_INVALID', `server "${name}" serves HTTPS but lacks ${s.httpsCertPath ? 'httpsKeyPath' : 'httpsCertPath'}`)
  }
  if (http.length + https.length === 0) throw new SmoothError('SMOOTH_NO_ADDRESS', name)
  if (s.http2 && (http.length > 0 || https.length === 0)) {
    throw new SmoothError('SMOOTH_CONFIG_INVALID', `server "${name}" has http2 on: every listener must be HTTPS (set httpsCertPath and httpsKeyPath, and no plain address)`)
  }
  const add = (a: ListenAddress, protocol: Protocol): ListenerSpec => {
    // The key names a socket across generations. A fixed port names it alone; port 0 ("any free
    // port") may be written by several servers, so it also names the server and its position.
    const key = a.port === 0 ? `${protocol}://${a.text}#${name}.${listeners.length}` : `${protocol}://${a.text}`
    const spec: ListenerSpec = { ...a, index: listeners.length, server: name, protocol, key }
    listeners.push(spec)
    return spec
  }
  const server: ResolvedServer = {
    name,
    listeners: [...http.map((a) => add(a, 'http')), ...https.map((a) => add(a, 'https'))],
    readTimeoutMs: toMs(s.readTimeout, Defaults.readTimeoutMs),
    idleTimeoutMs: toMs(s.idleTimeout, Defaults.idleTimeoutMs),
    underPressure: s.underPressure ?? {},
    fastify: s.fastify ?? {},
    http2: s.http2 === true,
  }
  if (https.length > 0) server.tls = { certPath: s.httpsCertPath!, keyPath: s.httpsKeyPath! }
  if (s.adminPattern) server.adminPattern = normalisePattern(s.adminPattern)
  if (s.metrics !== false) server.metricsPath = normalisePattern(s.metricsPath ?? '/metrics')
  return server
}

function normalisePattern(p: string): string {
  const withSlash = p.startsWith('/') ? p : '/' + p
  return withSlash.length > 1 ? withSlash.replace(/\/+$/, '') : withSlash
}

/** Reads and parses the certificate and key, so a bad file is an error before anything starts. */
export function loadTls(tls: { certPath: string; keyPath: string }): { cert: Buffer; key: Buffer } {
  const read = (what: string, path: string): Buffer => {
    try {
      return readFileSync(path)
    } catch (err) {
      throw new SmoothError('SMOOTH_CERT_UNREADABLE', what, `${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`)
    }
  }
  const pair = { cert: read('certificate', tls.certPath), key: read('key', tls.keyPath) }
  try {
    createSecureContext(pair)
  } catch (err) {
    throw new SmoothError('SMOOTH_CERT_INVALID', `${tls.certPath} / ${tls.keyPath}: ${(err as Error).message}`)
  }
  return pair
}

/** `surge` as a number of workers: "50%" of 4 is 2; at least 1, at most every worker. */
export function surgeOf(value: number | string, workers: number): number {
  const text = String(value)
  const n = text.endsWith('%') ? Math.ceil((workers * Number(text.slice(0, -1))) / 100) : Number(text)
  return Math.max(1, Math.min(workers, n))
}
