import { connect, constants, type ClientHttp2Session } from 'node:http2'
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { Pool } from 'undici'

/** A self-signed certificate for 127.0.0.1 / localhost in `dir` (openssl). */
export function selfSignedCertificate(dir: string): { cert: string; key: string } {
  const cert = join(dir, 'cert.pem')
  const key = join(dir, 'key.pem')
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', key, '-out', cert], { stdio: 'ignore' })
  return { cert, key }
}

export interface TlsLoadResult {
  ok: number
  /** Failed requests by cause (error code, or `status <n>`): none is expected through a rollout. */
  failed: Record<string, number>
  /**
   * HTTP/2 only: streams the client's own nghttp2 refused without sending them — it read the server's
   * shutdown notice (GOAWAY, last stream id 2^31-1) before it wrote their HEADERS — and that were
   * retried, as browsers do (RFC 9113 §8.7: safe to retry). A stream the server refused (one above the
   * last stream id of its final GOAWAY) counts in `failed` instead.
   */
  refused: number
}

export interface TlsLoad { result: TlsLoadResult; stop(): Promise<TlsLoadResult> }

const MAX_STREAM_ID = 2 ** 31 - 1
const count = (m: Record<string, number>, k: string): void => { m[k] = (m[k] ?? 0) + 1 }

/**
 * HTTPS/1.1 keep-alive load: `connections` connections (undici), one request at a time each, until
 * stop() or `maxMs`. `onResponse(ms)` sees every answered request's latency.
 */
export function httpsKeepAliveLoad(origin: string, opts: { connections: number; maxMs: number; onResponse?: (ms: number) => void }): TlsLoad {
  const result: TlsLoadResult = { ok: 0, failed: {}, refused: 0 }
  const pool = new Pool(origin, { connections: opts.connections, pipelining: 1, connect: { rejectUnauthorized: false }, headersTimeout: 10_000, bodyTimeout: 10_000 })
  const deadline = Date.now() + opts.maxMs
  let stopped = false
  const loop = async (): Promise<void> => {
    while (!stopped && Date.now() < deadline) {
      const t0 = performance.now()
      try {
        const res = await pool.request({ path: '/', method: 'GET' })
        await res.body.text()
        if (res.statusCode === 200) {
          result.ok++
          opts.onResponse?.(performance.now() - t0)
        } else count(result.failed, `status ${res.statusCode}`)
      } catch (err) {
        count(result.failed, (err as { code?: string }).code ?? (err as Error).message)
      }
    }
  }
  const done = Promise.all(Array.from({ length: opts.connections }, loop)).then(async () => {
    await pool.close()
    return result
  })
  return { result, stop: () => { stopped = true; return done } }
}

/**
 * HTTP/2 load: `sessions` connections, each keeping `streams` requests in flight, until stop() or
 * `maxMs`. A session that receives a GOAWAY opens no more streams (as RFC 9113 asks); its loops
 * move to a new session once their streams are done.
 */
export function http2Load(origin: string, opts: { sessions: number; streams: number; maxMs: number; onResponse?: (ms: number) => void }): TlsLoad {
  const result: TlsLoadResult = { ok: 0, failed: {}, refused: 0 }
  const deadline = Date.now() + opts.maxMs
  let stopped = false
  const open = new Set<ClientHttp2Session>()
  const running = (): boolean => !stopped && Date.now() < deadline

  /** One request; 'again' when it was refused (never processed) and should be retried. */
  const one = (session: ClientHttp2Session, lastGoaway: () => number | undefined): Promise<'ok' | 'again' | 'failed'> => new Promise((resolve) => {
    const t0 = performance.now()
    let req: ReturnType<ClientHttp2Session['request']>
    try {
      req = session.request({ ':path': '/' })
    } catch {
      // The session closed meanwhile: nothing was sent.
      resolve('again')
      return
    }
    let status = 0
    req.setTimeout(10_000, () => req.close(constants.NGHTTP2_CANCEL))
    req.on('response', (h) => { status = Number(h[':status']) })
    req.resume()
    req.on('end', () => {
      if (status === 200) {
        result.ok++
        opts.onResponse?.(performance.now() - t0)
        resolve('ok')
      } else {
        count(result.failed, `status ${status}`)
        resolve('failed')
      }
    })
    req.on('error', (err: Error & { code?: string }) => {
      const last = lastGoaway()
      const byServer = last !== undefined && last !== MAX_STREAM_ID && (req.id ?? 0) > last
      if (req.rstCode === constants.NGHTTP2_REFUSED_STREAM && !byServer) {
        result.refused++
        resolve('again')
      } else {
        count(result.failed, `${err.code ?? err.message} (rst ${req.rstCode ?? '-'}${byServer ? ', above the final GOAWAY' : ''})`)
        resolve('failed')
      }
    })
  })

  const client = async (): Promise<void> => {
    while (running()) {
      const session = connect(origin, { rejectUnauthorized: false })
      open.add(session)
      let usable = true
      let lastGoaway: number | undefined
      session.on('goaway', (_code: number, lastStreamID: number) => { usable = false; lastGoaway = lastStreamID })
      session.on('close', () => { usable = false; open.delete(session) })
      session.on('error', (err: Error & { code?: string }) => count(result.failed, `session ${err.code ?? err.message}`))
      const stream = async (): Promise<void> => {
        let retry = false
        while (running() && (usable || retry) && !session.closed && !session.destroyed) {
          const r = await one(session, () => lastGoaway)
          retry = false
          if (r === 'again') {
            // Never processed: retried on this session if it still takes streams, else on the next one.
            if (!usable) return
            retry = true
          }
        }
      }
      await Promise.all(Array.from({ length: opts.streams }, stream))
      session.close()
    }
  }
  const done = Promise.all(Array.from({ length: opts.sessions }, client)).then(() => {
    for (const s of open) s.destroy()
    return result
  })
  return { result, stop: () => { stopped = true; return done } }
}
