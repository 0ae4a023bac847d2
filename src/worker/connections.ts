import type { Server as HttpServer, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { isEventStream, endEventStream } from './long-lived.js'
import { Http2Sessions } from './h2-drain.js'
import type { Offer } from './handoff.js'

/** Passes idle connections to another worker (worker/handoff.ts). */
export interface Mover {
  /** Whether `socket` may still move (plain HTTP, not refused before, while the drain hands over). */
  canMove(socket: Socket): boolean
  /** Sends it if it is idle now. */
  offer(socket: Socket): Offer
}
/** Why a drain closed a connection: idle (the grace passed), its last response said `Connection: close`, the deadline. */
export type DrainCloseReason = 'idle' | 'connection_close' | 'deadline'
/** A busy connection offered for hand-off is offered again this often until it is idle. */
const RETRY_MS = 20

/**
 * Tracks the connections of one HTTP server in a worker and drains them.
 *
 * Nothing is added to the request path until a drain starts (the hot path stays as Node's own); a
 * connection costs one Set entry and one 'close' listener. A drain then:
 *  - answers every request that has not sent its headers yet, and every later one, with
 *    `Connection: close`, so keep-alive clients move to another worker after their current request;
 *  - closes a connection once it has no request in flight and has had `idleGraceMs` to deliver a
 *    request already on the wire: a connection idle when the drain starts, and one whose response
 *    in flight went out as keep-alive (its client may send the next request the moment it reads it).
 *    Closing either at once resets a keep-alive client whose next request is in flight. Over TLS the
 *    second case is the common one: a response stays in the TLS socket's buffer for a while after
 *    it is written, so most connections look busy when the drain starts;
 *  - ends server-sent-event streams after telling the client to retry, and leaves WebSockets (closed
 *    with 1012 by long-lived.ts) to their close handshake;
 *  - for HTTP/2, sends every session the graceful GOAWAY of RFC 9113 §6.8 (h2-drain.ts): its open
 *    streams finish, the client opens new ones on a new connection;
 *  - at the deadline, destroys what is left and reports how many were forced.
 * With a `mover` (connection hand-off, worker/handoff.ts), plain HTTP/1.1 connections keep their
 * keep-alive, and each is passed to a ready worker as soon as it is idle, instead of being closed.
 */
export class ConnectionTracker {
  private readonly sockets = new Set<Socket>()
  private pendingHandshakes = 0
  private draining = false
  /** Upgraded sockets (WebSockets) being closed by their own protocol: never closed as idle. */
  private longLived = new Set<Socket>()
  private onEmpty: (() => void) | undefined
  private mover: Mover | undefined

  private readonly h2: Http2Sessions | undefined

  /** `onRefused`: an HTTP/2 stream opened after its session's final GOAWAY, refused. */
  constructor(private readonly server: HttpServer, private readonly idleGraceMs: number, private readonly http2 = false, onRefused: () => void = () => {},
    private readonly onClosed: (reason: DrainCloseReason, n?: number) => void = () => {}) {
    this.h2 = http2 ? new Http2Sessions(server, onRefused) : undefined
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket)
      socket.once('close', () => {
        this.sockets.delete(socket)
        this.checkEmpty()
      })
      if (this.draining) this.closeWhenIdle(socket)
    })
  }

  /** A TLS handshake in progress counts as a connection until it completes or fails. */
  handshakeStarted(): () => void {
    this.pendingHandshakes++
    let done = false
    return () => {
      if (done) return
      done = true
      this.pendingHandshakes--
      this.checkEmpty()
    }
  }

  /** Open connections and those with a response in progress (walked on demand, not counted per request). */
  stats(): { connections: number; inflight: number } {
    let inflight = this.h2?.streams ?? 0
    for (const socket of this.sockets) if (currentResponse(socket)) inflight++
    return { connections: this.sockets.size + this.pendingHandshakes, inflight }
  }

  get size(): number {
    return this.sockets.size + this.pendingHandshakes
  }

  /** Resolves with the number of connections destroyed at the deadline (0 for a clean drain). */
  drain(timeoutMs: number, longLived: Set<Socket> = new Set(), mover?: Mover): Promise<number> {
    if (!this.draining) {
      this.draining = true
      this.longLived = longLived
      this.mover = this.http2 ? undefined : mover
      // GOAWAY: the sessions end by themselves once their streams are done.
      this.h2?.drain()
      this.server.prependListener('request', (req: { socket: Socket }, res: ServerResponse) => {
        // A connection that may move keeps its keep-alive: it is handed over once this response is out.
        if (this.mover?.canMove(req.socket)) return
        res.shouldKeepAlive = false
        this.onClosed('connection_close')
      })
      for (const socket of this.sockets) this.closeWhenIdle(socket)
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        const forced = this.size
        if (forced > 0) this.onClosed('deadline', forced)
        for (const socket of this.sockets) socket.destroy()
        this.pendingHandshakes = 0
        resolve(forced)
      }, timeoutMs)
      timer.unref()
      this.onEmpty = () => {
        clearTimeout(timer)
        resolve(0)
      }
      this.checkEmpty()
    })
  }

  private closeWhenIdle(socket: Socket): void {
    // HTTP/2 connections end with their session (GOAWAY above); WebSockets with their close handshake.
    if (this.http2 || this.longLived.has(socket)) return
    const res = currentResponse(socket)
    if (res && isEventStream(res)) {
      endEventStream(res)
      res.once('close', () => this.closeWhenIdle(socket))
      return
    }
    if (res) {
      // Busy: if the headers are still ours to write, make this the connection's last response.
      if (!res.headersSent && !this.mover?.canMove(socket)) {
        res.shouldKeepAlive = false
        this.onClosed('connection_close')
        // It may turn out to be an event stream once its headers go: then end it like the others.
        const watch = setInterval(() => {
          if (!isEventStream(res)) return
          clearInterval(watch)
          endEventStream(res)
        }, 100)
        watch.unref()
        res.once('close', () => clearInterval(watch))
      }
      // Then idle: with the grace, since a keep-alive response lets the client send another request
      // (a response marked above makes Node close the connection itself, clearing the timer).
      res.once('close', () => this.closeWhenIdle(socket))
      return
    }
    if (this.mover?.canMove(socket)) {
      const offer = this.mover.offer(socket)
      if (offer === 'sent') return
      if (offer === 'busy') {
        // Its next request has started arriving, or its last response is still being written.
        const timer = setTimeout(() => setImmediate(() => { if (!socket.destroyed) this.closeWhenIdle(socket) }), RETRY_MS)
        timer.unref()
        socket.once('close', () => clearTimeout(timer))
        return
      }
    }
    // Idle: closed once it has been quiet for the grace. Checked after the event loop's poll phase
    // (setImmediate), not in the timer itself: on a busy loop the timer runs before the data that
    // arrived while it waited has been read. Bytes that came meanwhile start the wait again.
    const read = socket.bytesRead
    const timer = setTimeout(() => setImmediate(() => {
      if (socket.destroyed) return
      if (currentResponse(socket) || socket.bytesRead !== read) this.closeWhenIdle(socket)
      else {
        this.onClosed('idle')
        socket.end()
      }
    }), this.idleGraceMs)
    timer.unref()
    socket.once('close', () => clearTimeout(timer))
  }

  private checkEmpty(): void {
    if (this.draining && this.size === 0 && this.onEmpty) {
      const done = this.onEmpty
      this.onEmpty = undefined
      done()
    }
  }
}

/** Node keeps the response being written on a connection in `socket._httpMessage`. */
function currentResponse(socket: Socket): ServerResponse | undefined {
  const res = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage
  return res && !res.writableFinished ? res : undefined
}
