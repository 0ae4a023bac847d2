import type { Logger } from 'pino'
import { env } from '../env.js'
import { isSmoothMessage, TAG, type FromAnchor, type ToAnchor } from '../protocol.js'
import { SmoothError } from '../errors.js'
import type { RawHandle } from './listeners.js'

/** How long the anchor may take to start a successor before the restart gives up on it. */
const SPAWN_TIMEOUT_MS = 10_000

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
  private seq = 0
  private readonly exits = new Map<number, (r: { code: number | null; signal: string | null }) => void>()
  private readonly spawns = new Map<number, { resolve: (pid: number) => void; reject: (e: Error) => void }>()
  /** The anchor died (kill -9, say): nothing it was asked will be answered, and it spawns nothing more. */
  gone = false
  private readonly pids = new Map<number, number>()
  private readonly goneListeners: Array<() => void> = []

  static connect(log: Logger): AnchorLink | undefined {
    if (!process.send || !process.env[`SMOOTH_ANCHOR_PID`] || env.role() !== 'primary') return undefined
    return new AnchorLink(log)
  }

  private constructor(private readonly log: Logger) {
    process.on('message', (msg: unknown) => {
      if (!isSmoothMessage<FromAnchor>(msg)) return
      switch (msg.act) {
        case 'spawned': this.spawns.get(msg.id)?.resolve(msg.pid); this.spawns.delete(msg.id); return
        case 'spawnFailed': this.spawns.get(msg.id)?.reject(new Error(msg.message)); this.spawns.delete(msg.id); return
        case 'childExit': this.exits.get(msg.id)?.({ code: msg.code, signal: msg.signal }); this.exits.delete(msg.id); return
      }
    })
    // The anchor must not keep this process alive, nor its loss kill it.
    process.channel?.unref()
    process.on('disconnect', () => {
      this.gone = true
      this.log.warn('anchor is gone')
      const why = new SmoothError('SMOOTH_ANCHOR_GONE', 'it exited while a successor was being started')
      for (const s of this.spawns.values()) s.reject(why)
      this.spawns.clear()
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

  private send(msg: ToAnchor, handle?: RawHandle): void {
    if (process.connected) process.send!(msg, handle as never)
  }

  /** Tells the anchor the settings it needs (it loads no config code of its own). */
  config(pidFile: string | undefined, logLevel: string): void {
    this.send({ smooth: TAG, act: 'config', logLevel, ...(pidFile ? { pidFile } : {}) })
  }

  async spawn(command: string, args: string[], cwd: string, childEnv: Record<string, string>, listeners: Array<{ key: string; handle: RawHandle }>): Promise<Generation> {
    if (this.gone) throw new SmoothError('SMOOTH_ANCHOR_GONE', 'it cannot start a successor')
    const id = ++this.seq
    for (const l of listeners) this.send({ smooth: TAG, act: 'fd', key: l.key }, l.handle)
    const exited = new Promise<{ code: number | null; signal: string | null }>((r) => this.exits.set(id, r))
    // Every step of a rollout has a deadline: an anchor that never answers fails the restart.
    let timer: NodeJS.Timeout | undefined
    const pid = await new Promise<number>((resolve, reject) => {
      this.spawns.set(id, { resolve, reject })
      timer = setTimeout(() => {
        this.spawns.delete(id)
        reject(new SmoothError('SMOOTH_ANCHOR_GONE', `it did not start the successor within ${SPAWN_TIMEOUT_MS} ms`))
      }, SPAWN_TIMEOUT_MS)
      this.send({ smooth: TAG, act: 'spawn', id, command, args, cwd, env: childEnv, keys: listeners.map((l) => l.key) })
    }).finally(() => clearTimeout(timer))
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

  handover(toPid: number): void {
    this.send({ smooth: TAG, act: 'handover', toPid })
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
