import type { Socket } from 'node:net'
import type { ServerResponse } from 'node:http'
import type { FastifyInstance } from 'fastify'

/**
 * Connections that never go idle on their own — WebSockets and server-sent events — would hold a
 * draining worker until the graceful timeout and then be cut. Instead they are told the server is
 * restarting, in each protocol's own words, so well-behaved clients reconnect at once (and reach a
 * worker that is not draining).
 */

/** RFC 6455 close code 1012, "Service Restart": the client should reconnect. */
export const WS_SERVICE_RESTART = 1012
/** The reconnection delay an SSE client is told before its stream ends. */
export const SSE_RETRY_MS = 250

interface WebSocketLike { close(code: number, reason: string): void; _socket?: Socket }

/**
 * Closes every WebSocket of `apps` (registered with @fastify/websocket) with 1012; returns their
 * sockets, which the drain then waits for instead of closing them as idle.
 */
export function closeWebSockets(apps: FastifyInstance[]): Set<Socket> {
  const sockets = new Set<Socket>()
  for (const app of apps) {
    const wss = (app as unknown as { websocketServer?: { clients: Set<WebSocketLike> } }).websocketServer
    if (!wss) continue
    for (const ws of wss.clients) {
      // ws keeps the underlying socket as `_socket`: the close handshake ends it, the drain waits.
      if (ws._socket) sockets.add(ws._socket)
      ws.close(WS_SERVICE_RESTART, 'Service Restart')
    }
  }
  return sockets
}

/** Whether a response is a server-sent-event stream already under way. */
export function isEventStream(res: ServerResponse): boolean {
  if (!res.headersSent) return false
  if (String(res.getHeader('content-type') ?? '').startsWith('text/event-stream')) return true
  // writeHead(status, {headers}) writes them without keeping them for getHeader(): read what went out.
  const sent = (res as ServerResponse & { _header?: string | null })._header ?? ''
  return /^content-type:\s*text\/event-stream/im.test(sent)
}

/** Ends an SSE stream after telling the client to come back in SSE_RETRY_MS. */
export function endEventStream(res: ServerResponse): void {
  // The app may still write to it; a write after the end must not become an uncaught error.
  res.on('error', () => {})
  res.end(`: server restarting\nretry: ${SSE_RETRY_MS}\n\n`)
}
