import { request as httpRequest, Agent } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { connect } from 'node:net'

export interface Reply { status: number; body: string; headers: Record<string, string | string[] | undefined> }

/** One request on a new connection (agent: false), with a bounded wait that names what it waited for. */
export function get(url: string, opts: { timeoutMs?: number; headers?: Record<string, string>; method?: string; agent?: Agent; body?: string; localAddress?: string } = {}): Promise<Reply> {
  const u = new URL(url)
  const req = u.protocol === 'https:' ? httpsRequest : httpRequest
  return new Promise((resolve, reject) => {
    const r = req(u, {
      method: opts.method ?? 'GET',
      headers: opts.headers,
      agent: opts.agent ?? false,
      rejectUnauthorized: false,
      ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
      timeout: opts.timeoutMs ?? 10_000,
    }, (res) => {
      let body = ''
      res.setEncoding('utf8').on('data', (c: string) => (body += c)).on('end', () => resolve({ status: res.statusCode!, body, headers: res.headers }))
      res.on('error', reject)
    })
    r.on('timeout', () => r.destroy(new Error(`timed out waiting for ${url}`)))
    r.on('error', reject)
    r.end(opts.body)
  })
}

/** Resolves true if a TCP connection to the port is refused. */
export function refused(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ port, host })
    s.once('connect', () => { s.destroy(); resolve(false) })
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'))
  })
}

/** A request whose first body chunk is reported: proof that a handler is running. */
export function startRequest(url: string, timeoutMs = 20_000): { firstChunk: Promise<string>; done: Promise<Reply> } {
  let onFirst!: (s: string) => void
  let onFirstErr!: (e: Error) => void
  const firstChunk = new Promise<string>((res, rej) => { onFirst = res; onFirstErr = rej })
  const done = new Promise<Reply>((resolve, reject) => {
    const r = httpRequest(url, { agent: false, timeout: timeoutMs }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => {
        if (!body) onFirst(c)
        body += c
      })
      res.on('end', () => resolve({ status: res.statusCode!, body, headers: res.headers }))
      res.on('error', reject)
    })
    r.on('timeout', () => r.destroy(new Error(`timed out waiting for ${url}`)))
    r.on('error', (e) => { onFirstErr(e); reject(e) })
    r.end()
  })
  firstChunk.catch(() => {})
  return { firstChunk, done }
}
