import { connect, type Socket } from 'node:net'

/**
 * One HTTP/1.1 keep-alive connection, spoken by hand so that a test sees exactly what the server did
 * with it: which local port it has (the same one for as long as the server keeps it open), whether
 * the server closed it between requests (FIN: `closedByServer`), and how a request failed if it did —
 * a reset, or an empty reply (closed before any byte of the response).
 */
export interface Reply { status: number; body: string; keepAlive: boolean }
export type Failure = 'reset' | 'empty' | 'timeout' | 'error'

export class KeepAliveConnection {
  private socket: Socket
  private buf = Buffer.alloc(0)
  private waiting: { resolve: (r: Reply) => void; reject: (e: Error & { failure: Failure }) => void; got: boolean } | undefined
  localPort = 0
  closedByServer = false
  ended = false

  private constructor(socket: Socket) {
    this.socket = socket
    socket.setNoDelay(true)
    socket.on('data', (chunk: Buffer) => {
      this.buf = Buffer.concat([this.buf, chunk])
      if (this.waiting) this.waiting.got = true
      this.parse()
    })
    socket.on('end', () => {
      this.ended = true
      this.closedByServer = true
      this.fail('empty')
      socket.end()
    })
    socket.on('error', (err: NodeJS.ErrnoException) => {
      this.ended = true
      this.fail(err.code === 'ECONNRESET' ? 'reset' : 'error', err.message)
    })
    socket.on('close', () => {
      this.ended = true
      this.fail('error', 'closed')
    })
  }

  static open(port: number): Promise<KeepAliveConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port })
      socket.once('error', reject)
      socket.once('connect', () => {
        socket.off('error', reject)
        const c = new KeepAliveConnection(socket)
        c.localPort = socket.localPort!
        resolve(c)
      })
    })
  }

  /** Sends one request; rejects with `failure` set when the connection fails under it. */
  request(method: string, path: string, body?: string, timeoutMs = 10_000): Promise<Reply> {
    if (this.ended) return Promise.reject(Object.assign(new Error('connection already closed'), { failure: 'error' as Failure }))
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.fail('timeout', `no reply within ${timeoutMs} ms`), timeoutMs)
      this.waiting = {
        resolve: (r) => { clearTimeout(timer); resolve(r) },
        reject: (e) => { clearTimeout(timer); reject(e) },
        got: false,
      }
      const head = `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n` +
        (body !== undefined ? `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` : '') + '\r\n'
      this.socket.write(body !== undefined ? head + body : head)
    })
  }

  close(): void {
    this.ended = true
    this.socket.destroy()
  }

  private parse(): void {
    const w = this.waiting
    if (!w) return
    const end = this.buf.indexOf('\r\n\r\n')
    if (end < 0) return
    const head = this.buf.subarray(0, end).toString('latin1')
    const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0)
    if (this.buf.length < end + 4 + length) return
    const body = this.buf.subarray(end + 4, end + 4 + length).toString()
    this.buf = this.buf.subarray(end + 4 + length)
    this.waiting = undefined
    w.resolve({ status: Number(head.split(' ')[1]), body, keepAlive: !/\r\nconnection: *close/i.test(head) })
  }

  private fail(failure: Failure, message: string = failure): void {
    const w = this.waiting
    if (!w) return
    this.waiting = undefined
    // The server closed before any byte of the reply: an empty reply (a reset is reported as such).
    w.reject(Object.assign(new Error(message), { failure: failure === 'error' && !w.got ? 'empty' as Failure : failure }))
  }
}

/** What one client of a fleet saw. */
export interface ClientRecord {
  /** Local ports it used: more than one means the server closed a connection and it reconnected. */
  ports: number[]
  /** Answering worker pids, in order. */
  pids: number[]
  failures: Failure[]
  /** Request latencies, ms. */
  latencies: number[]
}

/**
 * `n` clients, each on its own keep-alive connection asking GET /pid every `everyMs` (jittered, first
 * at a random instant). A connection the server closes between requests is replaced (a reconnect,
 * recorded); a request that fails is recorded and its client reconnects too.
 */
export function keepAliveFleet(port: number, n: number, everyMs: number) {
  const records: ClientRecord[] = Array.from({ length: n }, () => ({ ports: [], pids: [], failures: [], latencies: [] }))
  const open: KeepAliveConnection[] = []
  let stopped = false
  const pause = (ms: number) => new Promise((r) => setTimeout(r, ms))
  const client = async (rec: ClientRecord, i: number): Promise<void> => {
    await pause(Math.random() * everyMs)
    while (!stopped) {
      let c: KeepAliveConnection
      try {
        c = await KeepAliveConnection.open(port)
      } catch {
        rec.failures.push('error')
        await pause(everyMs)
        continue
      }
      open[i] = c
      rec.ports.push(c.localPort)
      while (!stopped && !c.ended) {
        const t0 = performance.now()
        try {
          const r = await c.request('GET', '/pid')
          rec.latencies.push(performance.now() - t0)
          rec.pids.push(Number(r.body))
          if (!r.keepAlive) break
        } catch (err) {
          if (!stopped) rec.failures.push((err as { failure: Failure }).failure)
          break
        }
        await pause(everyMs * (0.5 + Math.random()))
      }
      c.close()
    }
  }
  const done = Promise.all(records.map((r, i) => client(r, i)))
  return {
    records,
    /** Connections opened so far beyond the first of each client. */
    reconnects: () => records.reduce((a, r) => a + Math.max(0, r.ports.length - 1), 0),
    failures: () => records.flatMap((r) => r.failures),
    async stop(): Promise<ClientRecord[]> {
      stopped = true
      for (const c of open) c?.close()
      await done
      return records
    },
  }
}
