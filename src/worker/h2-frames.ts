import { Duplex } from 'node:stream'
import type { TLSSocket } from 'node:tls'

/**
 * An HTTP/2 connection's decrypted bytes, passed through unchanged between the TLS socket and Node's
 * HTTP/2 session, with the frame boundaries tracked in both directions. It exists for one frame Node
 * cannot send: the graceful-shutdown GOAWAY of RFC 9113 §6.8 (last stream id 2^31-1). Node's
 * `session.goaway()` submits a regular GOAWAY, after which its nghttp2 silently ignores every new
 * stream — including those the client sent before it read the GOAWAY, which it then sees refused.
 * (nghttp2 has `nghttp2_submit_shutdown_notice` for this; Node does not expose it.) Written here,
 * between two frames, the notice tells the client to open no more streams while the session, which
 * never saw it, still serves every stream that arrives. See h2-drain.ts for the rest of the drain.
 *
 * The cost: the session reads and writes through JavaScript instead of straight from the TLS socket.
 */

/** GOAWAY, stream 0, last stream id 2^31-1, NO_ERROR (RFC 9113 §6.8). */
const SHUTDOWN_NOTICE = Buffer.from([0, 0, 8, 0x7, 0, 0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0])
/** What the client sends before its first frame (RFC 9113 §3.4). */
const CLIENT_PREFACE_LENGTH = 24
const FRAME_HEADER = 9
const HEADERS = 0x1

/** Walks a byte stream frame by frame across chunk boundaries; calls `onHeader` for each frame header. */
class FrameWalker {
  private skip: number
  private left = 0
  private readonly header = Buffer.alloc(FRAME_HEADER)
  private have = 0
  /** Frame headers walked over so far. */
  frames = 0

  constructor(skip: number, private readonly onHeader?: (header: Buffer) => void) {
    this.skip = skip
  }

  /** Between two frames (nothing of a frame written yet or still to come). */
  get atBoundary(): boolean {
    return this.skip === 0 && this.left === 0 && this.have === 0
  }

  /**
   * Advances over `chunk` from `from`; stops early at the first boundary if `stopAtBoundary`.
   * Returns the offset reached.
   */
  walk(chunk: Buffer, from: number, stopAtBoundary: boolean): number {
    let i = from
    while (i < chunk.length) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - i)
        this.skip -= n
        i += n
      } else if (this.left > 0) {
        const n = Math.min(this.left, chunk.length - i)
        this.left -= n
        i += n
      } else {
        const n = Math.min(FRAME_HEADER - this.have, chunk.length - i)
        chunk.copy(this.header, this.have, i, i + n)
        this.have += n
        i += n
        if (this.have < FRAME_HEADER) break
        this.have = 0
        this.left = this.header.readUIntBE(0, 3)
        this.frames++
        this.onHeader?.(this.header)
      }
      if (stopAtBoundary && this.atBoundary) break
    }
    return i
  }
}

export class FramedSocket extends Duplex {
  /** Read by Node's HTTP/2 server to accept the connection as h2. */
  readonly alpnProtocol: string | false | null
  private readonly out = new FrameWalker(0)
  private readonly in: FrameWalker
  private noticePending = false
  /** After the final GOAWAY: new streams above this id are refused (nghttp2 ignores them). */
  private refusedAbove = Infinity
  private onRefused: (() => void) | undefined

  constructor(readonly tls: TLSSocket) {
    super({ allowHalfOpen: false })
    this.alpnProtocol = tls.alpnProtocol
    this.in = new FrameWalker(CLIENT_PREFACE_LENGTH, (h) => {
      // A HEADERS frame above the final GOAWAY's last stream id opens a stream nobody will serve.
      if (h[3] === HEADERS && (h.readUInt32BE(5) & 0x7fffffff) > this.refusedAbove) this.onRefused?.()
    })
    tls.on('data', (chunk: Buffer) => {
      this.in.walk(chunk, 0, false)
      if (!this.push(chunk)) tls.pause()
    })
    tls.on('end', () => this.push(null))
    tls.on('close', () => this.destroy())
    tls.on('error', (err) => this.destroy(err))
  }

  /** Sends the graceful-shutdown GOAWAY before the next frame the session writes. */
  shutdownNotice(): void {
    this.noticePending = true
  }

  /** Counts, from now on, the streams the client opens above `lastStreamId` (the final GOAWAY's). */
  countRefusedAbove(lastStreamId: number, onRefused: () => void): void {
    this.refusedAbove = lastStreamId
    this.onRefused = onRefused
  }

  override _read(): void {
    this.tls.resume()
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.forward(chunk)) cb()
    else this.tls.once('drain', () => cb())
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, cb: (err?: Error | null) => void): void {
    this.tls.cork()
    let flowing = true
    for (const { chunk } of chunks) flowing = this.forward(chunk)
    this.tls.uncork()
    if (flowing) cb()
    else this.tls.once('drain', () => cb())
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.tls.end()
    cb()
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.tls.destroy()
    cb(err)
  }

  /**
   * Where the notice may go: between two frames, and after the server's first frame. That one is its
   * SETTINGS, the connection preface (RFC 9113 §3.4): a client that gets anything else first fails the
   * whole connection with PROTOCOL_ERROR, and every stream on it. A session that arrives while its
   * worker drains gets the notice before it has written a byte.
   */
  private get noticeFits(): boolean {
    return this.out.atBoundary && this.out.frames > 0
  }

  /** Writes `chunk` to the TLS socket, with the pending notice put in at the first place it fits. */
  private forward(chunk: Buffer): boolean {
    let from = 0
    if (this.noticePending) {
      const at = this.noticeFits ? 0 : this.out.walk(chunk, 0, true)
      // No place inside: the walker has been over all of it; the notice waits for the next chunk.
      if (!this.noticeFits) return this.tls.write(chunk)
      this.noticePending = false
      if (at > 0) this.tls.write(chunk.subarray(0, at))
      if (at === chunk.length) return this.tls.write(SHUTDOWN_NOTICE)
      this.tls.write(SHUTDOWN_NOTICE)
      from = at
    }
    this.out.walk(chunk, from, false)
    return this.tls.write(from === 0 ? chunk : chunk.subarray(from))
  }
}
