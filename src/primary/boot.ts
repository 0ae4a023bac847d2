import { SmoothError } from '../errors.js'
import { EnvNames } from '../wire.js'
import { resolveConfig, loadTls } from '../config/resolve.js'
import { closeUnusedInherited } from './config-changes.js'
import { bindAll } from './listeners.js'
import { writePidFile } from './pidfile.js'
import { connectStatus, type StatusClient } from './status-channel.js'
import { notifySystemd } from './systemd.js'
import { AdminSecret } from './admin-secret.js'
import { warnAboutAdmin } from './admin-warning.js'
import type { SignalActions } from './signals.js'
import type { Primary } from './context.js'
import { startAfterPredecessor } from './upgrade/new-side.js'
import { createPool } from './pool-setup.js'
import { canaryReasonOf } from './canary-request.js'

/**
 * What this process was born with: a successor's status channel to its predecessor, and the sockets
 * it inherits (or the ports a full restart binds); `predecessor` once connected.
 */
export interface Birth {
  statusAddr: string | undefined
  statusToken: string | undefined
  inherited: Record<string, number>
  bound: Record<string, number>
  predecessor: StatusClient | undefined
}

/**
 * The primary's start-up: resolve the config, bind (or inherit) the sockets, start the workers (on
 * our own, or after a predecessor: upgrade/new-side.ts), open admin, say ready. Any failure is fatal.
 */
export async function boot(p: Primary, birth: Birth, onSignal: SignalActions): Promise<void> {
  const { log, anchor, build, fatal } = p
  const { statusAddr, statusToken, inherited, bound } = birth
  p.state = 'starting'
  try {
    p.config = resolveConfig(p.started.map((s) => ({ name: s.name, settings: s.settings })))
    const config = p.config
    log.level = config.process.logLevel
    for (const s of config.servers) if (s.tls) loadTls(s.tls)
    if (config.process.pidFile && !statusAddr) writePidFile(config.process.pidFile, anchor ? anchorPid() : process.pid)
    if (!statusAddr && anchor) {
      anchor.config(config.process.pidFile, config.process.logLevel)
      // The pid file in effect, as the anchor now has it: successors compare theirs with it.
      process.env[EnvNames.anchorPidFile] = config.process.pidFile ?? ''
    }
    p.listeners = await bindAll(config.listeners.map((l) => ({ ...l, port: bound[l.key] ?? l.port })), inherited)
    closeUnusedInherited(log, config, inherited)
    if (statusAddr && statusToken) {
      try {
        birth.predecessor = await connectStatus(statusAddr, statusToken, { pid: process.pid, generation: p.generation })
      } catch (err) {
        // The previous generation died before we could talk to it: we hold its sockets, so serve.
        log.error({ err: (err as NodeJS.ErrnoException).code ?? (err as Error).message }, 'the previous generation is gone: starting on our own')
      }
    }
  } catch (err) {
    fatal(err)
  }
  const config = p.config
  // Before any worker is forked: they inherit the environment this takes the token out of.
  p.adminSecret = new AdminSecret(config.process.adminToken)
  warnAboutAdmin(config, log)
  anchor?.onGone(() => anchorGone(p))
  const anchorPidFile = process.env[EnvNames.anchorPidFile] ?? ''
  if (anchor && (config.process.pidFile ?? '') !== anchorPidFile) {
    log.warn({ pidFile: config.process.pidFile ?? null, inEffect: anchorPidFile || null }, 'pidFile changed: it takes effect only after a full stop (the anchor writes it)')
  }
  const pool = p.pool = createPool(p, onSignal)
  try {
    if (birth.predecessor) await startAfterPredecessor(p, birth.predecessor)
    else await pool.startAll()
  } catch (err) {
    // A restart's canary rolled back: its code is the reason the old generation records.
    fatal(canaryReasonOf((err as SmoothError).code) ? err : new SmoothError('SMOOTH_WORKERS_NEVER_READY', (err as Error).message))
  }
  if (config.process.adminAddress) {
    try {
      await p.openAdmin(inherited[config.process.adminAddress.key])
    } catch (err) {
      fatal(new SmoothError('SMOOTH_LISTEN_FAILED', `adminAddress ${config.process.adminAddress.text}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`))
    }
  }
  const verb = birth.predecessor ? 'restarted' : 'started'
  for (const l of p.listeners) {
    log.info({ server: l.spec.server, address: l.display, port: l.port }, `${l.spec.protocol} server ${verb} listening on [${l.display}]`)
  }
  if (p.state === 'starting') p.state = 'serving'
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
  p.publishState()
}

/**
 * The anchor died: signals now come to this pid. The live primary says so in the pid file (the
 * anchor's pid may be given to another process by the OS); restarts spawn directly from here on.
 */
function anchorGone(p: Primary): void {
  const { log } = p
  const pidFile = p.config?.process.pidFile
  if (!pidFile || p.state === 'retiring' || p.state === 'stopping' || p.state === 'stopped') return
  try {
    writePidFile(pidFile)
    log.warn({ pidFile }, 'the anchor is gone: the pid file now names this primary')
  } catch (err) {
    log.error({ code: (err as SmoothError).code }, `cannot rewrite the pid file: ${(err as Error).message}`)
  }
}

/** The anchor's pid: the one a pid file names while there is an anchor. */
function anchorPid(): number {
  return Number(process.env[EnvNames.anchorPid]) || process.ppid
}
