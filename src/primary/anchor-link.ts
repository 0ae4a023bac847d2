import type { Logger } from 'pino'
import { env } from '../env.js'
import type { ConnAckNotice, ConnNotice, FromAnchor, HandOffOutcome, SpawnedReply, SpawnFailedReply, ToAnchor } from '../protocol.js'
import { EnvNames, isSmoothMessage, send, ReplyRouter, type Unsent } from '../wire.js'
import { timings } from './timings.js'
import { SmoothError } from '../errors.js'
import type { RawHandle } from './listeners.js'

export interface Generation {
  pid: number
  exited: Promise<{ code: number | null; signal: string | null }>
  kill(signal: NodeJS.Signals): void
}

/**
 * The primary's side of the IPC channel to its anchor. The anchor spawns successors (so it can wait
 * for every generation's exit and keep its pid stable), and learns from here who is live.
 */
export class AnchorLink {
  private readonly exits = new Map<number, (r: { code: number | null; signal: string | null }) => void>()
  /** Spawn requests in flight, by sequence number; `failSpawns` rejects them all when the anchor goes. */
  private readonly spawnReplies = new ReplyRouter<SpawnedReply | SpawnFailedReply>()
  private readonly failSpawns = new Set<(e: Error) => void>()
  /** The anchor died (kill -9, say): nothing it was asked will be answered, and it spawns nothing more. */
  gone = false
  private readonly pids = new Map<number, number>()
  private readonly goneListeners: Array<() => void> = []
  /** Connection hand-off in a restart (primary/handoff.ts): a connection from the previous generation, an answer from the next. */
  onConn: ((msg: ConnNotice, handle: RawHandle | undefined) => void) | undefined
  onConnAck: ((msg: ConnAckNotice) => void) | undefined

  static connect(log: Logger): AnchorLink | undefined {
    if (!process.send || !process.env[EnvNames.anchorPid] || env.role() !== 'primary') return undefined
    return new AnchorLink(log)
  }

  private constructor(private readonly log: Logger) {
    process.on('message', (msg: unknown, handle: unknown) => {
      if (!isSmoothMessage<FromAnchor>(msg)) return
      if (msg.act === 'childExit') {
        this.exits.get(msg.spawn)?.({ code: msg.code, signal: msg.signal })
        this.exits.delete(msg.spawn)
        return
      }
      if (msg.act === 'conn') {
        if (this.onConn) this.onConn(msg, handle as RawHandle | undefined)
        else (handle as RawHandle | undefined)?.close()
        return
      }
      if (msg.act === 'connAck') {
        this.onConnAck?.(msg)
        return
      }
      this.spawnReplies.route(msg)
    })
    // The anchor must not keep this process alive, nor its loss kill it.
    process.channel?.unref()
    process.on('disconnect', () => {
      this.gone = true
      this.log.warn('anchor is gone')
      const why = new SmoothError('SMOOTH_ANCHOR_GONE', 'it exited while a successor was being started')
      for (const fail of [...this.failSpawns]) fail(why)
      // A successor it started is not reported any more when it exits: watch its pid instead.
      for (const [id, done] of this.exits) watchPid(this.pids.get(id), () => done({ code: null, signal: null }))
      this.exits.clear()
      for (const f of this.goneListeners.splice(0)) f()
    })
  }

  onGone(f: () => void): void {
    if (this.gone) f()
    else this.goneListeners.push(f)
  }

  private send(msg: Unsent<ToAnchor>, handle?: RawHandle): number {
    return send<ToAnchor>(process, msg, handle)
  }

  /** Tells the anchor the settings it needs (it loads no config code of its own). */
  config(pidFile: string | undefined, logLevel: string): void {
    this.send({ act: 'config', logLevel, ...(pidFile ? { pidFile } : {}) })
  }

  async spawn(command: string, args: string[], cwd: string, childEnv: Record<string, string>, listeners: Array<{ key: string; handle: RawHandle }>): Promise<Generation> {
    if (this.gone) throw new SmoothError('SMOOTH_ANCHOR_GONE', 'it cannot start a successor')
    for (const l of listeners) this.send({ act: 'fd', key: l.key }, l.handle)
    // Every step of a rollout has a deadline: an anchor that never answers fails the restart.
    let timer: NodeJS.Timeout | undefined
    let id = 0
    let exited!: Promise<{ code: number | null; signal: string | null }>
    let forget = (): void => {}
    let fail = (_e: Error): void => {}
    const pid = await new Promise<number>((resolve, reject) => {
      fail = reject
      this.failSpawns.add(fail)
      id = this.send({ act: 'spawn', command, args, cwd, env: childEnv, keys: listeners.map((l) => l.key) })
      exited = new Promise((r) => this.exits.set(id, r))
      forget = this.spawnReplies.expect(id, (reply) => reply.act === 'spawned' ? resolve(reply.pid) : reject(new Error(reply.message)))
      timer = setTimeout(() => reject(new SmoothError('SMOOTH_ANCHOR_GONE', `it did not start the successor within ${timings.anchorSpawnMs} ms`)), timings.anchorSpawnMs)
    }).finally(() => {
      clearTimeout(timer)
      forget()
      this.failSpawns.delete(fail)
    })
    this.pids.set(id, pid)
    void exited.then(() => this.pids.delete(id))
    return {
      pid,
      exited,
      kill: (signal) => {
        try { process.kill(pid, signal) } catch { /* already gone */ }
      },
    }
  }

  /** Passes a connection handle to the successor `toPid`; `cb` once written. */
  relayConn(toPid: number, id: number, server: string, handle: unknown, cb: (err: Error | null) => void): void {
    send<ToAnchor>(process, { act: 'relayConn', toPid, id, server }, handle, cb)
  }

  relayConnAck(toPid: number, id: number, outcome: HandOffOutcome): void {
    this.send({ act: 'relayConnAck', toPid, id, outcome })
  }

  handover(toPid: number): void {
    this.send({ act: 'handover', toPid })
  }
}

/** Calls `done` once `pid` no longer exists (polled: it is not our child, no event says so). */
function watchPid(pid: number | undefined, done: () => void): void {
  const alive = (): boolean => {
    if (!pid) return false
    try {
      process.kill(pid, 0)
      return true
    } catch {
      return false
    }
  }
  if (!alive()) return done()
  const timer = setInterval(() => {
    if (alive()) return
    clearInterval(timer)
    done()
  }, 200)
  timer.unref()
}
