import { Socket } from 'node:net'
import type { Server as HttpServer, ServerResponse } from 'node:http'
import type { HandOffOutcome } from '../protocol.js'
import { heldElsewhere } from './fd-holders.js'

/**
 * Connection hand-off, the worker's side: a draining worker passes each idle plain-HTTP/1.1
 * keep-alive connection, as its socket handle, to a ready worker (through the primary), instead of
 * closing it; a ready worker adopts such handles as new connections of the right server.
 *
 * The rules that keep it safe:
 *  - Only an idle connection moves: no response being written or queued in user space, and no byte
 *    of a new request read. Reading stops first (so nothing more can be read here); only then is
 *    idleness checked, by Node's own connection list (a parser is idle when no byte of a new message
 *    has been read since the last one ended). A request already on the wire stays in the kernel's
 *    buffer and is read by the receiver: that is the point.
 *  - One parser per socket: once sent, this process never reads it again. The parser lets go of the
 *    handle and the JS socket is detached from it before it is destroyed, so nothing here ends it.
 *  - Our copy of the descriptor is closed (close(2), never shutdown(2)) when the receiver has it
 *    (`handedOff`), or at the deadline: a close sends no FIN while another process holds the socket.
 *    A receiver that never got it (dead, refused) leaves ours the last copy: that close ends the
 *    connection as a drain does today, and it is counted so.
 */

/** libuv's TCP handle (a net.Socket's `_handle`), as much of it as is used here. */
export interface TcpHandle {
  readStart(): number
  readStop(): number
  reading?: boolean
  writeQueueSize: number
  onread: unknown
  close(cb?: () => void): void
  setNoDelay(on: boolean): number
  /** Its descriptor (Linux; -1 when closed). */
  fd?: number
}

type SocketInternals = Socket & {
  _handle: TcpHandle | null
  _httpMessage?: ServerResponse | null
  parser?: { _consumed?: boolean; unconsume(): void } | null
}

type ParserList = { idle(): Array<{ socket?: Socket }> }

/** Why a connection a drain tried to hand over was closed instead (see the README's hand-off section). */
export type HandOffReason = 'handoff_timeout'
export type Offer = 'sent' | 'busy' | 'no'

export interface HandOffSenderOptions {
  /** Sends the handle (primary: `handOff`); `cb` once written (the descriptor is in the message). */
  send(id: number, server: string, handle: TcpHandle, cb: (err: Error | null) => void): void
  /** How long a sent connection may wait for its receiver before our copy is closed and counted. */
  deadlineMs: number
  onHanded(): void
  onClosed(reason: HandOffReason): void
}

const noop = (): void => {}

/** Node's own list of a server's connections (http.Server[kConnections]), found by its symbol's description. */
function connectionsOf(server: HttpServer): ParserList | undefined {
  const key = Object.getOwnPropertySymbols(server).find((s) => s.description === 'http.server.connections')
  return key ? (server as unknown as Record<symbol, ParserList>)[key] : undefined
}

export class HandOffSender {
  private nextId = 1
  /** Sent connections awaiting their answer; `written` once the handle is in a message on the channel. */
  private readonly pending = new Map<number, { handle: TcpHandle; timer: NodeJS.Timeout | undefined; written: boolean; takeBack: (socket: Socket) => void }>()
  /** Connections refused by every receiver and served here again: never offered twice. */
  private readonly stays = new WeakSet<Socket>()
  private settledWaiters: Array<() => void> = []
  /** Node's idle list, read once per synchronous run (no I/O can happen within one). */
  private idleCache = new Map<HttpServer, Set<Socket>>()
  handed = 0
  closed = 0

  constructor(private readonly opts: HandOffSenderOptions) {}

  /**
   * Passes `socket` on if it is idle: 'sent' (it is gone from this process), 'busy' (a request is
   * in progress or its bytes have started arriving: it goes on being served here), 'no' (it cannot
   * move: no handle).
   */
  /** Plain (TLS state lives in this process), not upgraded, not refused by every receiver before. */
  canMove(socket: Socket): boolean {
    const s = socket as SocketInternals & { encrypted?: boolean }
    return s.encrypted !== true && !this.stays.has(socket)
  }

  offer(socket: Socket, server: HttpServer, serverName: string): Offer {
    const s = socket as SocketInternals
    const handle = s._handle
    if (!handle || s.destroyed || !s.parser || !this.canMove(socket)) return 'no'
    const res = s._httpMessage
    if ((res && !res.writableFinished) || s.writableLength > 0 || handle.writeQueueSize > 0) return 'busy'
    const wasReading = handle.reading !== false
    handle.readStop()
    handle.reading = false
    if (socket.bytesRead > 0 && !this.idleSet(server).has(socket)) {
      if (wasReading) {
        handle.reading = true
        handle.readStart()
      }
      return 'busy'
    }
    // Detach: the parser lets go of the handle, the JS socket forgets it, then goes (its 'close'
    // frees the parser and the server's bookkeeping; with no handle, destroy closes nothing).
    const parser = s.parser!
    if (parser._consumed) {
      parser.unconsume()
      parser._consumed = false
    }
    handle.onread = noop
    s._handle = null
    socket.setTimeout(0)
    socket.destroy()
    const id = this.nextId++
    // Refused: ours is the only copy left, unread; it is served here again and closed as a drain does.
    const takeBack = (again: Socket): void => {
      this.stays.add(again)
      server.emit('connection', again)
    }
    const entry = { handle, timer: undefined as NodeJS.Timeout | undefined, written: false, takeBack }
    this.pending.set(id, entry)
    this.opts.send(id, serverName, handle, (err) => {
      // A write that failed never carried the descriptor: nobody else has it.
      if (err) return this.settle(id, 'refused')
      entry.written = true
      // The deadline runs from the write: a handle still queued (IPC sends one handle at a time) must
      // never be closed before it is in a message, or ours would be the last copy of a live connection.
      if (this.pending.has(id)) entry.timer = setTimeout(() => this.settle(id, 'unknown'), this.opts.deadlineMs)
    })
    return 'sent'
  }

  /** The primary's answer for connection `id`. */
  answered(id: number, outcome: HandOffOutcome): void {
    this.settle(id, outcome)
  }

  /** Resolves once every connection sent has been answered or timed out. */
  settled(): Promise<void> {
    if (this.pending.size === 0) return Promise.resolve()
    return new Promise((resolve) => this.settledWaiters.push(resolve))
  }

  /**
   * The primary is gone: no answer will come. A connection whose handle was written may be in another
   * process now: if one holds it, our copy closes (theirs serves it); if none does (the primary died
   * before passing it on), ours is its last copy. That one, like a handle still queued (IPC writes one
   * handle at a time), is served here again, as a refused one is: closing it would reset a request the
   * client may have sent on it already.
   */
  abandon(): void {
    const entries = [...this.pending]
    // One walk of /proc for all of them, and only if one was written (a queued one is ours alone).
    const written = entries.filter(([, p]) => p.written).map(([, p]) => p.handle.fd ?? -1)
    const held = written.length > 0 ? heldElsewhere(written) : new Set<number>()
    for (const [id, p] of entries) this.settle(id, p.written && held.has(p.handle.fd ?? -1) ? 'unknown' : 'refused')
  }

  private settle(id: number, outcome: HandOffOutcome): void {
    const p = this.pending.get(id)
    if (!p) return
    this.pending.delete(id)
    clearTimeout(p.timer)
    if (outcome === 'refused') {
      // Counted by the drain when it closes it.
      adopt(p.handle, p.takeBack, 0)
    } else {
      p.handle.close()
      if (outcome === 'adopted') {
        this.handed++
        this.opts.onHanded()
      } else {
        this.closed++
        this.opts.onClosed('handoff_timeout')
      }
    }
    if (this.pending.size === 0) for (const w of this.settledWaiters.splice(0)) w()
  }

  private idleSet(server: HttpServer): Set<Socket> {
    let set = this.idleCache.get(server)
    if (!set) {
      set = new Set()
      for (const parser of connectionsOf(server)?.idle() ?? []) if (parser.socket) set.add(parser.socket)
      if (this.idleCache.size === 0) process.nextTick(() => this.idleCache.clear())
      this.idleCache.set(server, set)
    }
    return set
  }
}

/**
 * Wraps a received connection handle as a socket, as net.Server wraps an accepted one, and gives it
 * to the server's connection handler. The keep-alive clock starts again here: if no request comes
 * within `keepAliveMs`, the connection is closed as an idle keep-alive connection would be.
 */
export function adopt(handle: TcpHandle, accept: (socket: Socket) => void, keepAliveMs: number): Socket {
  handle.setNoDelay(true)
  // `handle` is an internal option: net.Server itself wraps accepted handles this way.
  const socket = new Socket({ handle, readable: true, writable: true } as ConstructorParameters<typeof Socket>[0])
  accept(socket)
  if (keepAliveMs > 0) {
    const timer = setTimeout(() => {
      const s = socket as SocketInternals
      if (socket.bytesRead === 0 && !s._httpMessage) socket.destroy()
    }, keepAliveMs)
    timer.unref()
    socket.once('close', () => clearTimeout(timer))
  }
  return socket
}
