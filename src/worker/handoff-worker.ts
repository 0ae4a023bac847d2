import type { Server as HttpServer } from 'node:http'
import type { Socket } from 'node:net'
import type { FromWorker, HandOffOutcome } from '../protocol.js'
import { send } from '../wire.js'
import type { WorkerMetrics } from '../metrics/worker-metrics.js'
import type { Mover } from './connections.js'
import { HandOffSender, adopt, type TcpHandle } from './handoff.js'

/** How long a drain offers idle connections to other workers, and how long one sent may wait for its receiver. */
const HANDOFF_WINDOW_MS = 5_000
const HANDOFF_DEADLINE_MS = 5_000
/** How often a drain that sends handles checks that its primary is still there (see `begin`). */
const CHANNEL_CHECK_MS = 50

type Acceptor = (socket: Socket) => void

/** Counts of one drain, for the `drained` message (the rollout record) and the metrics. */
export interface DrainCounts { handedOver: number; closed: Record<string, number> }

/**
 * A worker's hand-off: the plain-HTTP acceptor of each server (to adopt with), and, once draining,
 * the sender, over the IPC channel to the primary (protocol.ts: handOff / adopt / adopted / handedOff).
 */
export class WorkerHandOff {
  private readonly plain = new Map<string, { server: HttpServer; accept: Acceptor }>()
  private sender: HandOffSender | undefined
  private windowEnds = 0
  readonly counts: DrainCounts = { handedOver: 0, closed: {} }

  /** `metrics`: the worker's registry, once built (counts go there too). */
  constructor(private readonly metrics: () => WorkerMetrics | undefined) {}

  /** Writes a connection handle to the primary; `cb` once written (the descriptor is in the message). */
  private sendHandle(id: number, server: string, handle: TcpHandle, cb: (err: Error | null) => void): void {
    send<FromWorker>(process, { act: 'handOff', id, server }, handle, cb)
  }

  private answer(id: number, ok: boolean): void {
    send<FromWorker>(process, { act: 'adopted', id, ok })
  }

  /** A server's plain-HTTP/1.1 connections can move (not HTTP/2: its sessions end with GOAWAY). */
  register(name: string, server: HttpServer, accept: Acceptor): void {
    this.plain.set(name, { server, accept })
  }

  closed(reason: string, n = 1): void {
    this.counts.closed[reason] = (this.counts.closed[reason] ?? 0) + n
    this.metrics()?.closedOnDrain.inc({ reason }, n)
  }

  /**
   * Starts handing over: for `windowMs` (at most 5 s), idle connections are offered; each sent one
   * waits at most `deadlineMs` for its receiver's answer.
   */
  begin(windowMs: number, deadlineMs = HANDOFF_DEADLINE_MS): void {
    this.windowEnds = Date.now() + Math.min(windowMs, HANDOFF_WINDOW_MS)
    this.sender = new HandOffSender({
      send: (id, server, handle, cb) => this.sendHandle(id, server, handle, cb),
      deadlineMs,
      onHanded: () => {
        this.counts.handedOver++
        this.metrics()?.handedOver.inc()
      },
      onClosed: (reason) => this.closed(reason),
    })
    // A primary that dies while a handle awaits its acknowledgement never sends it, and node:child_process
    // holds 'disconnect' back until its handle queue is flushed: the event never comes, only
    // `process.connected` turns false. So the channel is watched here: what waits is settled at once
    // (the handles still queued are served here again), not at the deadline with a request unread.
    const watch = setInterval(() => {
      if (process.connected) return
      clearInterval(watch)
      this.abandon()
    }, CHANNEL_CHECK_MS)
    watch.unref()
  }

  /** The tracker's mover for server `name` (none when its connections cannot move, or no drain hands over). */
  mover(name: string): Mover | undefined {
    const target = this.plain.get(name)
    const sender = this.sender
    if (!target || !sender) return undefined
    return {
      canMove: (socket) => Date.now() < this.windowEnds && sender.canMove(socket),
      offer: (socket) => sender.offer(socket, target.server, name),
    }
  }

  /** The primary's answer about a connection we sent. */
  answered(id: number, outcome: HandOffOutcome): void {
    this.sender?.answered(id, outcome)
  }

  /** Every connection sent has its answer (or its deadline passed). */
  settled(): Promise<void> {
    return this.sender?.settled() ?? Promise.resolve()
  }

  abandon(): void {
    this.sender?.abandon()
  }

  /** A connection handed to us: served as `server`'s if we serve (`ready`), else refused unread. */
  adopt(id: number, server: string, handle: TcpHandle | undefined, ready: boolean): void {
    const target = this.plain.get(server)
    if (!handle) return this.answer(id, false)
    if (!ready || !target) {
      handle.close()
      return this.answer(id, false)
    }
    adopt(handle, target.accept, target.server.keepAliveTimeout)
    this.answer(id, true)
  }
}
