import { EventEmitter } from 'node:events'
import type { Os, SpawnedProcess, Timer, WorkerProcess, WorkerSpec } from '../../src/primary/os.js'
import { timings as realTimings, type Timings } from '../../src/primary/timings.js'
import { TAG } from '../../src/wire.js'

/**
 * A fake operating system for the primary's machinery (src/primary/os.ts): a virtual clock that moves
 * only when the test says (`advance`), and processes that do what the test says (`FakeWorker.say`,
 * `exit`). Nothing is started, nothing sleeps: a back-off of 30 s is one `advance(30_000)`.
 */
export class FakeOs implements Os {
  private clock = 1_000_000
  private nextTimer = 1
  private readonly timers = new Map<number, { at: number; fn: () => void; every?: number }>()
  private nextPid = 10_000
  readonly workers: FakeWorker[] = []
  readonly spawned: FakeProcess[] = []
  /** Called for each forked worker (tests script it here, e.g. `autoWorker`). */
  onFork: (w: FakeWorker) => void = () => {}
  onSpawn: (p: FakeProcess) => void = () => {}
  /** The next spawn creates no process (as when the executable cannot be run). */
  spawnWithoutPid = false
  /** Pids `running` says are still running (other processes than ours: a previous generation). */
  readonly alive = new Set<number>()

  now(): number {
    return this.clock
  }

  setTimeout(fn: () => void, ms: number): Timer {
    const id = this.nextTimer++
    this.timers.set(id, { at: this.clock + Math.max(0, ms), fn })
    return id as unknown as Timer
  }

  clearTimeout(t: Timer | undefined): void {
    if (t !== undefined) this.timers.delete(t as unknown as number)
  }

  setInterval(fn: () => void, ms: number): Timer {
    const id = this.nextTimer++
    this.timers.set(id, { at: this.clock + ms, fn, every: ms })
    return id as unknown as Timer
  }

  clearInterval(t: Timer | undefined): void {
    this.clearTimeout(t)
  }

  sleep(ms: number): Promise<undefined> {
    return new Promise((resolve) => this.setTimeout(() => resolve(undefined), ms))
  }

  running(pid: number): boolean {
    return this.alive.has(pid)
  }

  forkWorker(spec: WorkerSpec): WorkerProcess {
    const w = new FakeWorker(this.nextPid++, spec)
    this.workers.push(w)
    this.onFork(w)
    return w
  }

  spawn(command: string, args: string[], fds: number[], env: NodeJS.ProcessEnv, cwd: string): SpawnedProcess {
    const p = new FakeProcess(this.spawnWithoutPid ? undefined : this.nextPid++, { command, args, fds, env, cwd })
    this.spawned.push(p)
    this.onSpawn(p)
    return p
  }

  /** Timers pending (for "nothing is left scheduled" checks). */
  get pendingTimers(): number {
    return this.timers.size
  }

  /** Moves the clock by `ms`, firing every timer due on the way, in order, letting promises settle after each. */
  async advance(ms: number): Promise<void> {
    const until = this.clock + ms
    for (;;) {
      await settle()
      let next: [number, { at: number; fn: () => void; every?: number }] | undefined
      for (const e of this.timers) if (e[1].at <= until && (!next || e[1].at < next[1].at)) next = e
      if (!next) break
      const [id, t] = next
      this.clock = Math.max(this.clock, t.at)
      if (t.every) t.at += t.every
      else this.timers.delete(id)
      t.fn()
    }
    this.clock = until
    await settle()
  }
}

/** Lets every promise chain that can move, move (several turns of the microtask queue and one of I/O). */
export async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    await new Promise<void>((r) => setImmediate(r))
  }
}

/** A forked worker: what the primary sent it (`sent`), and what the test makes it do. */
export class FakeWorker extends EventEmitter implements WorkerProcess {
  connected = true
  readonly sent: Array<{ msg: Record<string, unknown>; handle: unknown }> = []
  readonly signals: string[] = []
  exited = false
  /** SIGKILL/SIGTERM make it exit (on the next turn), as a real process would. */
  diesOnSignal = true

  constructor(readonly pid: number, readonly spec: WorkerSpec) {
    super()
  }

  send(message: unknown, sendHandle?: unknown, _options?: object, callback?: (error: Error | null) => void): boolean {
    this.sent.push({ msg: message as Record<string, unknown>, handle: sendHandle })
    this.emit('received', message)
    setImmediate(() => callback?.(null))
    return true
  }

  kill(signal: NodeJS.Signals): void {
    this.signals.push(signal)
    if (this.diesOnSignal && !this.exited) setImmediate(() => this.exit(null, signal))
  }

  /** The worker sends a message to the primary. */
  say(act: string, fields: Record<string, unknown> = {}): void {
    if (!this.exited) this.emit('message', { smooth: TAG, seq: 0, act, ...fields }, undefined)
  }

  exit(code: number | null, signal: string | null = null): void {
    if (this.exited) return
    this.exited = true
    this.connected = false
    this.emit('exit', code, signal)
  }

  /** The acts the primary sent it, in order. */
  acts(): string[] {
    return this.sent.map((s) => String(s.msg.act))
  }
}

/**
 * Scripts a worker like the real one: ready at once, accepting when told to accept, drained and
 * gone when told to drain, answering stats and metrics requests (by `ack`).
 */
export function autoWorker(w: FakeWorker, opts: { ready?: boolean } = {}): void {
  if (opts.ready !== false) setImmediate(() => w.say('ready'))
  w.on('received', (msg: { act: string; seq: number }) => {
    switch (msg.act) {
      case 'accept': setImmediate(() => w.say('accepting')); return
      case 'drain': setImmediate(() => { w.say('drained', { forced: 0 }); w.exit(0) }); return
      case 'stats': setImmediate(() => w.say('statsReply', { ack: msg.seq, stats: { connections: 0, inflight: 0, rss: 1, heapUsed: 1 } })); return
      case 'metrics': setImmediate(() => w.say('metricsReply', { ack: msg.seq, metrics: [] })); return
    }
  })
}

/** A spawned process (a successor generation started directly). */
export class FakeProcess extends EventEmitter implements SpawnedProcess {
  readonly signals: string[] = []
  exited = false
  constructor(readonly pid: number | undefined, readonly spec: { command: string; args: string[]; fds: number[]; env: NodeJS.ProcessEnv; cwd: string }) {
    super()
  }

  kill(signal: NodeJS.Signals): void {
    this.signals.push(signal)
    setImmediate(() => this.exit(null, signal))
  }

  exit(code: number | null, signal: string | null = null): void {
    if (this.exited) return
    this.exited = true
    this.emit('exit', code, signal)
  }
}

/** The real deadlines, every one scaled down (a unit test's clock is virtual anyway: this keeps numbers readable). */
export function fakeTimings(over: Partial<Timings> = {}): Timings {
  return { ...realTimings, ...over }
}
