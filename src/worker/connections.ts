import type { Server as HttpServer, ServerResponse } from 'node:http'
import type { Http2Session } from 'node:http2'
import type { Socket } from 'node:net'
import { isEventStream, endEventStream } from './long-lived.js'

/**
 * Tracks the connections of one HTTP server in a worker and drains them.
 *
 * Nothing is added to the request path until a drain starts (the hot path stays as Node's own); a
 * connection costs one Set entry and one 'close' listener. A drain then:
 *  - answers every request that has not sent its headers yet, and every later one, with
 *    `Connection: close`, so keep-alive clients move to another worker after their current request;
 *  - closes a connection as soon as it has no request in flight, but gives a connection that is idle
 *    when the drain starts `idleGraceMs` to deliver a request already on the wire (closing it at once
 *    would reset a keep-alive client whose next request is in flight: the classic keep-alive race);
 *  - ends server-sent-event streams after telling the client to retry, and leaves WebSockets (closed
 *    with 1012 by long-lived.ts) to their close handshake;
 *  - for HTTP/2, sends every session a GOAWAY (session.close()): its open streams finish, the
 *    client opens new ones on a new connection;
 *  - at the deadline, destroys what is left and reports how many were forced.
 */
export class ConnectionTracker {
  private readonly sockets = new Set<Socket>()
  private pendingHandshakes = 0
  private draining = false
  /** Upgraded sockets (WebSockets) being closed by their own protocol: never closed as idle. */
  private longLived = new Set<Socket>()
  private onEmpty: (() => void) | undefined

  private readonly sessions = new Set<Http2Session>()
  private h2Streams = 0

  constructor(private readonly server: HttpServer, private readonly idleGraceMs: number, private readonly http2 = false) {
    if (http2) {
      server.on('session', (session: Http2Session) => {
        this.sessions.add(session)
        session.once('close', () => this.sessions.delete(session))
        if (this.draining) session.close()
      })
      server.on('stream', (stream: { once(e: 'close', f: () => void): void }) => {
        this.h2Streams++
        stream.once('close', () => this.h2Streams--)
      })
    }
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket)
      socket.once('close', () => {
        this.sockets.delete(socket)
        this.checkEmpty()
      })
      if (this.draining) this.closeWhenIdle(socket, this.idleGraceMs)
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
    let inflight = this.h2Streams
    for (const socket of this.sockets) if (currentResponse(socket)) inflight++
    return { connections: this.sockets.size + this.pendingHandshakes, inflight }
  }

  get size(): number {
    return this.sockets.size + this.pendingHandshakes
  }

  /** Resolves with the number of connections destroyed at the deadline (0 for a clean drain). */
  drain(timeoutMs: number, longLived: Set<Socket> = new Set()): Promise<number> {
    if (!this.draining) {
      this.draining = true
      this.longLived = longLived
      // GOAWAY: the sessions end by themselves once their streams are done.
      for (const session of this.sessions) session.close()
      this.server.prependListener('request', (_req, res: ServerResponse) => {
        res.shouldKeepAlive = false
      })
      for (const socket of this.sockets) this.closeWhenIdle(socket, this.idleGraceMs)
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        const forced = this.size
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

  private closeWhenIdle(socket: Socket, graceMs: number): void {
    // HTTP/2 connections end with their session (GOAWAY above); WebSockets with their close handshake.
    if (this.http2 || this.longLived.has(socket)) return
    const res = currentResponse(socket)
    if (res && isEventStream(res)) {
      endEventStream(res)
      res.once('close', () => this.closeWhenIdle(socket, 0))
      return
    }
    if (res) {
      // Busy: if the headers are still ours to write, make this the connection's last response.
      if (!res.headersSent) {
        res.shouldKeepAlive = false
        // It may turn out to be an event stream once its headers go: then end it like the others.
        const watch = setInterval(() => {
          if (!isEventStream(res)) return
          clearInterval(watch)
          endEventStream(res)
        }, 100)
        watch.unref()
        res.once('close', () => clearInterval(watch))
      }
      res.once('close', () => this.closeWhenIdle(socket, 0))
      return
    }
    if (graceMs === 0) {
      socket.end()
      return
    }
    const timer = setTimeout(() => {
      if (!currentResponse(socket)) socket.end()
    }, graceMs)
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
