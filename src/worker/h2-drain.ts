import type { EventEmitter } from 'node:events'
import type { Http2Session } from 'node:http2'
import type { TLSSocket } from 'node:tls'
import { FramedSocket } from './h2-frames.js'

/** How long a client has to answer the PING that follows the notice; then the final GOAWAY goes anyway. */
const PING_TIMEOUT_MS = 2_000

/**
 * The HTTP/2 sessions of one server in a worker, and their drain: the graceful GOAWAY of RFC 9113 §6.8.
 *  1. the shutdown notice, a GOAWAY with the last stream id 2^31-1 (h2-frames.ts): the client opens no
 *     new stream on this connection and goes to a new one (another worker);
 *  2. a PING: its answer comes after every stream the client opened before it read the notice;
 *  3. the final GOAWAY (Node's `session.close()`), with the last stream the session has seen: every
 *     stream opened before it is served, and the session ends when they are done. A stream the client
 *     still opens after that is refused — for the client, REFUSED_STREAM, safe to retry — and counted.
 * Sessions that arrive while draining (their handshake was under way) get the same treatment.
 */
export class Http2Sessions {
  private readonly sessions = new Map<Http2Session, FramedSocket | undefined>()
  /** The connection being handed to the server: Node emits its 'session' inside that 'connection'. */
  private arriving: FramedSocket | undefined
  private draining = false
  /** Streams open across the sessions (requests in flight). */
  streams = 0

  constructor(server: EventEmitter, private readonly onRefused: () => void) {
    server.prependListener('connection', (socket: unknown) => {
      this.arriving = socket instanceof FramedSocket ? socket : undefined
    })
    server.on('session', (session: Http2Session) => {
      const framed = this.arriving
      this.arriving = undefined
      if (framed) adoptPeer(session, framed.tls)
      this.sessions.set(session, framed)
      session.once('close', () => this.sessions.delete(session))
      if (this.draining) this.goaway(session, framed)
    })
    server.on('stream', (stream: EventEmitter) => {
      this.streams++
      stream.once('close', () => this.streams--)
    })
  }

  drain(): void {
    if (this.draining) return
    this.draining = true
    for (const [session, framed] of this.sessions) this.goaway(session, framed)
  }

  private goaway(session: Http2Session, framed: FramedSocket | undefined): void {
    if (session.closed || session.destroyed) return
    if (!framed) {
      // Not a connection of ours (no frame tap): Node's own single GOAWAY.
      session.close()
      return
    }
    framed.shutdownNotice()
    let sent = false
    const final = (): void => {
      if (sent) return
      sent = true
      clearTimeout(timer)
      if (session.closed || session.destroyed) return
      // The id the final GOAWAY carries: Node sends the last stream its session has processed.
      const last = session.state.lastProcStreamID ?? 0
      session.close()
      framed.countRefusedAbove(last, this.onRefused)
    }
    const timer = setTimeout(final, PING_TIMEOUT_MS)
    timer.unref()
    try {
      // The notice goes out just before this PING (the next frame the session writes). If the PING
      // cannot be sent (too many unanswered), the timer sends the final GOAWAY.
      session.ping(() => final())
    } catch {
      final()
    }
  }
}

/**
 * Node wraps a JavaScript stream in a socket of its own, whose handle knows neither the addresses nor
 * that the connection is encrypted: `request.ip`, `request.protocol`, the admin's loopback and Host
 * checks read them. They are given to that handle (reached through the session's socket) from the TLS
 * socket's.
 */
function adoptPeer(session: Http2Session, tls: TLSSocket): void {
  type Name = { address?: string; family?: string; port?: number }
  const socket = session.socket as unknown as { _handle?: { getpeername?: (out: Name) => number; getsockname?: (out: Name) => number }; encrypted?: boolean }
  const handle = socket._handle
  if (handle) {
    handle.getpeername = (out) => (Object.assign(out, { address: tls.remoteAddress, family: tls.remoteFamily, port: tls.remotePort }), 0)
    handle.getsockname = (out) => (Object.assign(out, { address: tls.localAddress, family: tls.remoteFamily, port: tls.localPort }), 0)
  }
  socket.encrypted = true
}
