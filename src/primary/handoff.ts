import type { Logger } from 'pino'
import type { HandOffOutcome } from '../protocol.js'
import type { WorkerPool, WorkerSlot } from './workers.js'
import type { AnchorLink } from './anchor-link.js'

/**
 * Connection hand-off, the primary's side (the worker's is worker/handoff.ts): a draining worker's
 * idle keep-alive connection arrives here as a socket handle and goes on to a ready worker — of this
 * pool in a reload (the newest first: the replacements), or, during a restart, to the successor
 * generation through the anchor (`remote`). Each hop closes its own copy of the descriptor once it
 * has passed it on (close(2) sends no FIN while another process holds the socket), and passes the
 * outcome back the same way. A hop that gets no answer in time says 'unknown': the sender then only
 * closes its copy (the receiver may be serving it); 'refused' means no other copy is left.
 *
 * Why the anchor for restarts: descriptors travel only over a Unix-domain IPC channel, and the
 * primaries of two generations share none — the status channel is TCP — but both have one to the
 * anchor, which spawned them both (a primary started without an anchor closes as before).
 */

/** A connection handle as received over IPC (net.Native): a libuv TCP handle. */
export interface ConnHandle { close(): void }

type Answer = (outcome: HandOffOutcome) => void

/** Passes a handle to the successor; false when there is no route (then the pool's workers get it). */
export type RemoteRoute = (server: string, handle: ConnHandle, answer: Answer) => boolean

function unrefTimer(f: () => void, ms: number): NodeJS.Timeout {
  const t = setTimeout(f, ms)
  t.unref()
  return t
}

export class HandOffRelay {
  private nextId = 1
  private readonly pending = new Map<number, { answer: Answer; timer: NodeJS.Timeout | undefined; to: WorkerSlot }>()
  private turn = 0
  /** Set while a restart's successor can take connections. */
  remote: RemoteRoute | undefined

  constructor(private readonly pool: WorkerPool, private readonly log: Logger, private readonly deadlineMs: number) {
    pool.on('exit', (slot: WorkerSlot) => {
      // Died with connections we gave it: they died with it, or it never read them.
      for (const [id, p] of this.pending) if (p.to === slot) this.settle(id, 'unknown')
    })
  }

  /** A draining worker's connection. */
  fromWorker(from: WorkerSlot, id: number, server: string, handle: ConnHandle | undefined): void {
    const answer: Answer = (outcome) => from.send({ act: 'handedOff', id, outcome })
    if (!handle) return answer('refused')
    if (this.remote?.(server, handle, answer)) return
    this.toWorker(server, handle, answer, from)
  }

  /** Gives a connection to a ready worker of this pool; `answer` gets what became of it. */
  toWorker(server: string, handle: ConnHandle, answer: Answer, except?: WorkerSlot): void {
    const to = this.pick(except)
    if (!to) {
      handle.close()
      return answer('refused')
    }
    const id = this.nextId++
    const entry: { answer: Answer; timer: NodeJS.Timeout | undefined; to: WorkerSlot } = { answer, timer: undefined, to }
    this.pending.set(id, entry)
    to.send({ act: 'adopt', id, server }, handle as never, (err) => {
      // Written (the receiver has its own copy) or failed (it never will): ours goes either way.
      handle.close()
      if (err) return this.settle(id, 'refused')
      // From the write on (handles queue one at a time on a channel).
      if (this.pending.has(id)) entry.timer = unrefTimer(() => this.settle(id, 'unknown'), this.deadlineMs)
    })
  }

  /** A worker's answer to `adopt`. */
  adopted(id: number, ok: boolean): void {
    this.settle(id, ok ? 'adopted' : 'refused')
  }

  private settle(id: number, outcome: HandOffOutcome): void {
    const p = this.pending.get(id)
    if (!p) return
    this.pending.delete(id)
    clearTimeout(p.timer)
    if (outcome === 'unknown') this.log.warn({ workerPid: p.to.pid }, 'connection hand-off: no answer from the receiving worker in time')
    p.answer(outcome)
  }

  /** A ready worker, the newest first (in a reload, the replacements), in turn among the newest. */
  private pick(except?: WorkerSlot): WorkerSlot | undefined {
    const ready = this.pool.live().filter((s) => s.state === 'ready' && s !== except && s.connected)
    if (ready.length === 0) return undefined
    const newer = except ? ready.filter((s) => s.id > except.id) : ready
    const from = newer.length > 0 ? newer : ready
    return from[this.turn++ % from.length]
  }
}

/**
 * The anchor's side of a restart's hand-off: which connections we sent to the successor wait for
 * its answer (`sent`), and which it sent us are answered back (`received`).
 */
export class SuccessorRoute {
  private nextId = 1
  private readonly pending = new Map<number, { answer: Answer; timer: NodeJS.Timeout | undefined }>()

  constructor(
    private readonly relay: (toPid: number, id: number, server: string, handle: ConnHandle, cb: (err: Error | null) => void) => void,
    private readonly ack: (toPid: number, id: number, outcome: HandOffOutcome) => void,
    private readonly deadlineMs: number,
  ) {}

  /** A route to successor `pid` for HandOffRelay.remote. */
  to(pid: number): RemoteRoute {
    return (server, handle, answer) => {
      const id = this.nextId++
      const entry: { answer: Answer; timer: NodeJS.Timeout | undefined } = { answer, timer: undefined }
      this.pending.set(id, entry)
      this.relay(pid, id, server, handle, (err) => {
        handle.close()
        if (err) return this.settle(id, 'refused')
        if (this.pending.has(id)) entry.timer = unrefTimer(() => this.settle(id, 'unknown'), this.deadlineMs)
      })
      return true
    }
  }

  /** The successor's answer (relayed by the anchor). */
  answered(id: number, outcome: HandOffOutcome): void {
    this.settle(id, outcome)
  }

  /** A connection from the previous generation's primary (`fromPid`): to one of our workers. */
  received(relay: HandOffRelay, fromPid: number, id: number, server: string, handle: ConnHandle | undefined): void {
    if (!handle) return this.ack(fromPid, id, 'refused')
    relay.toWorker(server, handle, (outcome) => this.ack(fromPid, id, outcome))
  }

  private settle(id: number, outcome: HandOffOutcome): void {
    const p = this.pending.get(id)
    if (!p) return
    this.pending.delete(id)
    clearTimeout(p.timer)
    p.answer(outcome)
  }
}

/** How long each hop waits for the next one's answer: less than the worker's own deadline (5 s), so its answer comes first. */
const WORKER_HOP_MS = 2_000
const SUCCESSOR_HOP_MS = 3_500

/** The part of the anchor link (primary/anchor-link.ts) the hand-off uses. */
export type AnchorRoutes = Pick<AnchorLink, 'gone' | 'onConn' | 'onConnAck' | 'relayConn' | 'relayConnAck'>

/**
 * Wires a pool's hand-off: its draining workers' connections go to its ready workers, or to the
 * successor while `toSuccessor(pid)` is set; connections from the previous generation go to its
 * ready workers. `enabled` is the handOffConnections setting.
 */
export function wireHandOff(pool: WorkerPool, anchor: AnchorRoutes | undefined, log: Logger, enabled: boolean): { toSuccessor(pid: number | undefined): void; toPool(): void } {
  pool.handOff = enabled
  const relay = new HandOffRelay(pool, log, WORKER_HOP_MS)
  pool.on('handOff', (slot: WorkerSlot, msg: { id: number; server: string }, handle: ConnHandle | undefined) => relay.fromWorker(slot, msg.id, msg.server, handle))
  pool.on('adopted', (_slot: WorkerSlot, msg: { id: number; ok: boolean }) => relay.adopted(msg.id, msg.ok))
  const route = anchor
    ? new SuccessorRoute((toPid, id, server, handle, cb) => anchor.relayConn(toPid, id, server, handle, cb), (toPid, id, outcome) => anchor.relayConnAck(toPid, id, outcome), SUCCESSOR_HOP_MS)
    : undefined
  if (anchor && route) {
    // Taken whatever our own setting: the previous generation decided to hand it over.
    anchor.onConn = (msg, handle) => route.received(relay, msg.fromPid, msg.id, msg.server, handle)
    anchor.onConnAck = (msg) => route.answered(msg.id, msg.outcome)
  }
  return {
    // A restart: every worker of ours retires, so a connection goes to the successor or nowhere. With
    // no route to it (no anchor, a full restart) drains close connections as before hand-off existed:
    // handing them to a sibling that retires next, then taking them back, only widens the close race.
    toSuccessor(pid) {
      relay.remote = pid !== undefined && route && anchor && !anchor.gone ? route.to(pid) : undefined
      pool.handOff = enabled && relay.remote !== undefined
      pool.handOffToSuccessor = pool.handOff
    },
    // No restart any more (rolled back): drains hand connections to our own ready workers again.
    toPool() {
      relay.remote = undefined
      pool.handOff = enabled
      pool.handOffToSuccessor = false
    },
  }
}

/** What a rollout's drains did with their connections, for its record. */
export interface DrainConnections { handedOver: number; closed: Record<string, number> }

export function addDrainConnections(into: { connections?: DrainConnections }, counts: DrainConnections | undefined): void {
  if (!counts) return
  const c = (into.connections ??= { handedOver: 0, closed: {} })
  c.handedOver += counts.handedOver
  for (const [reason, n] of Object.entries(counts.closed)) c.closed[reason] = (c.closed[reason] ?? 0) + n
}
