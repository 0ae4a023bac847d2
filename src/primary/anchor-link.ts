import type { Logger } from 'pino'
import { env } from '../env.js'
import { isSmoothMessage, TAG, type FromAnchor, type ToAnchor } from '../protocol.js'
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
  private seq = 0
  private readonly exits = new Map<number, (r: { code: number | null; signal: string | null }) => void>()
  private readonly spawns = new Map<number, { resolve: (pid: number) => void; reject: (e: Error) => void }>()

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
    process.on('disconnect', () => this.log.warn('anchor is gone'))
  }

  private send(msg: ToAnchor, handle?: RawHandle): void {
    if (process.connected) process.send!(msg, handle as never)
  }

  async spawn(command: string, args: string[], childEnv: Record<string, string>, listeners: Array<{ key: string; handle: RawHandle }>): Promise<Generation> {
    const id = ++this.seq
    for (const l of listeners) this.send({ smooth: TAG, act: 'fd', key: l.key }, l.handle)
    const exited = new Promise<{ code: number | null; signal: string | null }>((r) => this.exits.set(id, r))
    const pid = await new Promise<number>((resolve, reject) => {
      this.spawns.set(id, { resolve, reject })
      this.send({ smooth: TAG, act: 'spawn', id, command, args, env: childEnv, keys: listeners.map((l) => l.key) })
    })
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
