import type { ChildProcess } from 'node:child_process'
import { createAnchorLog, type AnchorLog } from './anchor-log.js'
import { EnvNames } from '../env.js'
import type { FromAnchor, ToAnchor } from '../protocol.js'
import { isSmoothMessage, send, AnchorForwardedSignals, RestartSignal, type Unsent } from '../wire.js'
import type { RuntimeHooks, Server } from '../server.js'
import { spawnGeneration, PRELOAD } from '../primary/successor.js'
import { removePidFile } from '../primary/pidfile.js'
import { pathToFileURL } from 'node:url'
import { originalLaunch, recordLaunch, startDir } from '../primary/launch.js'

/**
 * The anchor: the process the user started. It keeps its pid for the server's whole life, so
 * `npm start`, a terminal, systemd and a container's PID 1 keep working across restarts. It spawns
 * every generation of primaries (the first one, and each successor a primary asks for), forwards
 * signals to the live one, writes the pid file, and exits with the live generation's exit code.
 */
export function createAnchorRuntime(): RuntimeHooks {
  const log: AnchorLog = createAnchorLog()
  recordLaunch()
  const children = new Map<number, ChildProcess>()
  /** Which primary asked for which successor: the heir if the live one dies during its restart. */
  const spawnedBy = new Map<ChildProcess, ChildProcess>()
  let live: ChildProcess | undefined
  let pidFile: string | undefined
  let booted = false
  let doneResolve!: () => void
  const done = new Promise<void>((r) => (doneResolve = r))

  for (const sig of AnchorForwardedSignals) {
    process.on(sig, () => {
      if (live?.pid) {
        try { live.kill(sig) } catch { /* exiting */ }
      }
    })
  }

  function adopt(child: ChildProcess, requester?: { child: ChildProcess; spawn: number }): void {
    const pid = child.pid!
    children.set(pid, child)
    if (requester) spawnedBy.set(child, requester.child)
    // Forgotten once it exits: otherwise each generation would keep the one before it alive, and the
    // anchor would hold every generation it ever started (the soak test saw it grow).
    let asker = requester
    const forget = (): void => { asker = undefined }
    requester?.child.once('exit', forget)
    // A failed IPC write (a child exiting as we send) is an 'error' event: never an anchor crash.
    child.on('error', (err) => log.warn({ primary: pid, err: err.message }, 'primary channel error'))
    const fds = new Map<string, { fd: number; close(): void }>()
    child.on('message', (msg: unknown, handle: unknown) => {
      if (!isSmoothMessage<ToAnchor>(msg)) return
      switch (msg.act) {
        case 'fd':
          fds.set(msg.key, handle as { fd: number; close(): void })
          return
        case 'spawn': {
          const reply = (m: Unsent<FromAnchor>): void => { send<FromAnchor>(child, m) }
          try {
            const handles = msg.keys.map((k) => fds.get(k)!)
            const successor = spawnGeneration(msg.command, msg.args, handles.map((h) => h.fd), msg.env, true, msg.cwd)
            const onError = (err: Error): void => reply({ act: 'spawnFailed', ack: msg.seq!, message: err.message })
            successor.once('error', onError)
            successor.once('spawn', () => successor.off('error', onError))
            // The successor has its own copies now; the anchor never holds the sockets.
            for (const h of handles) h.close()
            fds.clear()
            if (successor.pid) {
              adopt(successor, { child, spawn: msg.seq! })
              reply({ act: 'spawned', ack: msg.seq!, pid: successor.pid })
            }
          } catch (err) {
            reply({ act: 'spawnFailed', ack: msg.seq!, message: (err as Error).message })
          }
          return
        }
        case 'config':
          // The first primary resolved the config (the anchor loads no config code: issue 14's
          // footprint) and wrote the pid file with our pid; we remove it when we exit.
          log.level = msg.logLevel
          if (msg.pidFile) pidFile = msg.pidFile
          return
        case 'relayConn': {
          // A restart's connection hand-off (primary/handoff.ts): old primary -> successor. Our copy of
          // the descriptor closes once passed on; a successor that cannot get it is answered for.
          const conn = handle as { close(): void } | undefined
          const to = children.get(msg.toPid)
          const refuse = (): void => { send<FromAnchor>(child, { act: 'connAck', id: msg.id, outcome: 'refused' }) }
          if (!conn || !to?.connected) {
            conn?.close()
            return refuse()
          }
          send<FromAnchor>(to, { act: 'conn', fromPid: pid, id: msg.id, server: msg.server }, conn, (err) => {
            conn.close()
            if (err) refuse()
          })
          return
        }
        case 'relayConnAck': {
          const to = children.get(msg.toPid)
          if (to) send<FromAnchor>(to, { act: 'connAck', id: msg.id, outcome: msg.outcome })
          return
        }
        case 'handover': {
          const next = children.get(msg.toPid)
          if (next) {
            live = next
            log.info({ from: pid, to: msg.toPid }, 'live primary changed')
          }
          return
        }
      }
    })
    child.on('exit', (code, signal) => {
      children.delete(pid)
      spawnedBy.delete(child)
      asker?.child.off('exit', forget)
      const heir = [...spawnedBy].find(([c, parent]) => parent === child && c.exitCode === null && c.signalCode === null)?.[0]
      for (const [c, parent] of spawnedBy) if (parent === child) spawnedBy.delete(c)
      if (asker) send<FromAnchor>(asker.child, { act: 'childExit', spawn: asker.spawn, pid, code, signal })
      if (child !== live) return
      // Killed in the middle of its restart: the successor holds every socket already, so it takes
      // over rather than the whole service going down with the old primary.
      if (heir && code !== 0) {
        live = heir
        log.error({ primary: pid, code, signal, successor: heir.pid }, 'live primary died during a restart: its successor takes over')
        return
      }
      const exitCode = code ?? 128 + (signal ? (osSignals[signal] ?? 0) : 0)
      if (code !== 0) log.error({ primary: pid, code, signal }, 'live primary exited abnormally')
      if (pidFile) removePidFile(pidFile)
      doneResolve()
      setImmediate(() => process.exit(exitCode))
    })
  }

  /** The config is the first primary's to read and check: a bad one makes it exit 1, and us with it. */
  function boot(): void {
    const launch = originalLaunch()
    const first = spawnGeneration(
      process.execPath,
      ['--import', pathToFileURL(PRELOAD).href, ...process.execArgv, launch.entry, ...process.argv.slice(2)],
      [],
      { ...process.env, [EnvNames.role]: 'primary', [EnvNames.generation]: '1', [EnvNames.anchorPid]: String(process.pid), [EnvNames.anchorPidFile]: pidFile ?? '' },
      true,
      startDir(launch),
    )
    live = first
    adopt(first)
  }

  const started: Server[] = []
  return {
    start(server: Server): Promise<void> {
      started.push(server)
      if (!booted) {
        booted = true
        setImmediate(() => boot())
      }
      // The anchor serves nothing itself: start() resolves when the server has stopped.
      return done
    },
    shutdown: async () => { live?.kill('SIGTERM'); await done },
    reload: async () => { live?.kill('SIGUSR2') },
    restart: async () => { live?.kill(RestartSignal) },
    wait: () => done,
  }
}

const osSignals: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGTERM: 15, SIGSEGV: 11, SIGABRT: 6 }
