import { createServer, connect, type Server, type Socket } from 'node:net'
import { randomBytes, timingSafeEqual } from 'node:crypto'
import { EventEmitter } from 'node:events'
import type { Logger } from 'pino'
import type { PredecessorFrame, SuccessorFrame } from '../protocol.js'
import { timings } from './timings.js'
import { decodePredecessorFrame, decodeSuccessorFrame } from './status-frames.js'
import type { SmoothError } from '../errors.js'

/** Before the token is checked a line is a hello: small. After, it may carry a metrics dump. */
const MAX_HELLO_LINE = 4 * 1024
const MAX_LINE = 16 * 1024 * 1024

/**
 * Splits a socket's bytes into frames: one JSON object with a string `t` a line. Anything else (a line
 * too long, not JSON, not such an object) ends the connection, saying why through `onBad`.
 */
function frames(socket: Socket, onFrame: (f: { t: string } & Record<string, unknown>) => void, onBad: (why: string) => void, maxLine: () => number = () => MAX_LINE): void {
  let buf = ''
  const bad = (why: string): void => {
    buf = ''
    onBad(why)
    socket.destroy()
  }
  socket.setEncoding('utf8')
  socket.on('data', (chunk: string) => {
    buf += chunk
    if (buf.length > maxLine() && !buf.includes('\n')) return bad('line too long')
    let i: number
    while (!socket.destroyed && (i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i)
      buf = buf.slice(i + 1)
      let frame: unknown
      try {
        frame = JSON.parse(line)
      } catch {
        return bad('not JSON')
      }
      if (typeof frame !== 'object' || frame === null || Array.isArray(frame) || typeof (frame as { t?: unknown }).t !== 'string') return bad('not a frame')
      onFrame(frame as { t: string } & Record<string, unknown>)
    }
  })
}

function sameToken(given: unknown, token: string): boolean {
  if (typeof given !== 'string') return false
  const a = Buffer.from(given)
  const b = Buffer.from(token)
  return a.length === b.length && timingSafeEqual(a, b)
}

/**
 * The old primary's end: a listener on 127.0.0.1:<random port>. The first connection that says hello
 * with the token becomes the session; every other connection is refused and counted.
 */
export class StatusServer extends EventEmitter {
  readonly token = randomBytes(32).toString('hex')
  private server: Server | undefined
  private session: Socket | undefined
  /** Connections not yet past the token check: closed with the channel (a late hello finds it closed). */
  private readonly pending = new Set<Socket>()
  refused = 0
  address = ''

  constructor(private readonly log: Logger) {
    super()
  }

  async open(): Promise<string> {
    const server = createServer((socket) => this.onConnection(socket))
    this.server = server
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(0, '127.0.0.1', () => resolve())
    })
    const addr = server.address() as { port: number }
    this.address = `127.0.0.1:${addr.port}`
    return this.address
  }

  private onConnection(socket: Socket): void {
    socket.on('error', () => {})
    const refuse = (why: string): void => {
      this.refused++
      this.emit('refused', why)
      this.log.warn({ remote: `${socket.remoteAddress}:${socket.remotePort}`, why }, 'status channel: connection refused')
      socket.destroy()
    }
    if (this.session) return refuse('a successor is already connected')
    const timer = setTimeout(() => refuse('no hello in time'), timings.statusHelloMs)
    let authed = false
    frames(socket, (f) => {
      if (!authed) {
        clearTimeout(timer)
        if (f.t !== 'hello' || !sameToken(f.token, this.token)) return refuse('bad token')
        if (this.session) return refuse('a successor is already connected')
      }
      // Checked against its declared shape only once the token is: a stranger learns nothing from us.
      let frame: SuccessorFrame
      try {
        frame = decodeSuccessorFrame(f)
      } catch (err) {
        this.log.error({ code: (err as SmoothError).code }, (err as Error).message)
        if (!authed) return refuse('bad hello')
        // The successor itself broke the protocol: the session ends, and the restart with it.
        socket.destroy()
        return
      }
      if (!authed) {
        authed = true
        this.session = socket
        this.pending.delete(socket)
        socket.on('close', () => this.emit('close'))
        this.emit('hello', frame)
        return
      }
      this.emit('frame', frame)
    }, () => (authed ? MAX_LINE : MAX_HELLO_LINE))
    this.pending.add(socket)
    socket.on('close', () => {
      clearTimeout(timer)
      this.pending.delete(socket)
    })
  }

  send(frame: PredecessorFrame): void {
    this.session?.write(JSON.stringify(frame) + '\n')
  }

  close(): void {
    this.session?.end()
    for (const s of this.pending) s.destroy()
    this.server?.close()
  }
}

/** The successor's end. Resolves once connected and the hello is written. */
export async function connectStatus(address: string, token: string, hello: Omit<Extract<SuccessorFrame, { t: 'hello' }>, 't' | 'token'>): Promise<StatusClient> {
  const [host, port] = [address.slice(0, address.lastIndexOf(':')), Number(address.slice(address.lastIndexOf(':') + 1))]
  const socket = connect({ host, port })
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve)
    socket.once('error', reject)
  })
  const client = new StatusClient(socket)
  client.send({ t: 'hello', token, ...hello })
  return client
}

export class StatusClient extends EventEmitter {
  closed = false
  constructor(private readonly socket: Socket) {
    super()
    socket.on('error', () => {})
    socket.on('close', () => {
      this.closed = true
      this.emit('close')
    })
    frames(socket, (f) => {
      let frame: PredecessorFrame
      try {
        frame = decodePredecessorFrame(f)
      } catch (err) {
        // The predecessor broke the protocol: we go on as if it were gone (it closes our end).
        this.emit('invalid', err)
        socket.destroy()
        return
      }
      this.emit('frame', frame)
    }, () => {})
  }

  send(frame: SuccessorFrame): void {
    if (!this.closed) this.socket.write(JSON.stringify(frame) + '\n')
  }

  close(): void {
    this.socket.end()
  }
}
