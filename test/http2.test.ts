import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { connect, type ClientHttp2Session } from 'node:http2'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SmoothProcess, killAll, dist, until } from './helpers/proc.js'
import { reloadBySignal } from './helpers/rollout.js'
import { parseExposition, total } from './helpers/exposition.js'
import { requires } from './helpers/requires.js'

after(killAll)
const root = mkdtempSync(join(tmpdir(), 'smooth-h2-'))
after(() => rmSync(root, { recursive: true, force: true }))

function h2get(session: ClientHttp2Session, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = session.request({ ':path': path })
    let status = 0
    let body = ''
    req.setEncoding('utf8')
    req.on('response', (h) => { status = Number(h[':status']) })
    req.on('data', (c: string) => (body += c))
    req.on('end', () => resolve({ status, body }))
    req.on('error', reject)
    req.setTimeout(10_000, () => req.close())
  })
}

test('HTTP/2 over TLS drains with GOAWAY: the stream in flight finishes, the client moves to a new connection', { timeout: 60_000, ...requires('openssl') }, async () => {
  const cert = join(root, 'cert.pem')
  const key = join(root, 'key.pem')
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-keyout', key, '-out', cert], { stdio: 'ignore' })
  const p = new SmoothProcess(dist('test/fixtures/app.js'), { GRACEFUL: '1', SMOOTH_HTTP2: 'true', SMOOTH_HTTPS_CERT_PATH: cert, SMOOTH_HTTPS_KEY_PATH: key })
  const sessions: ClientHttp2Session[] = []
  try {
    const port = await p.ready()
    const open = (): ClientHttp2Session => {
      const s = connect(`https://127.0.0.1:${port}`, { rejectUnauthorized: false })
      s.on('error', () => {})
      sessions.push(s)
      return s
    }
    const session = open()
    const first = await h2get(session, '/pid')
    assert.equal(first.status, 200)
    assert.equal(session.alpnProtocol, 'h2')
    const goaway = new Promise<void>((r) => session.once('goaway', () => r()))
    const slow = h2get(session, '/slow?ms=2000')
    // In flight on that worker: the slow stream and this status request itself.
    await until('the slow stream to reach the worker', async () =>
      JSON.parse((await h2get(session, '/debug/admin/status')).body).workers.some((w: { inflight?: number }) => (w.inflight ?? 0) >= 2), 10_000)
    await reloadBySignal(p)
    await goaway
    const done = await slow
    assert.equal(done.status, 200, 'the stream in flight at the GOAWAY finished')
    assert.equal(done.body, first.body, 'on the same (old) worker')
    const again = await h2get(open(), '/pid')
    assert.notEqual(again.body, first.body, 'a new connection reaches a new worker')
    const scrape = parseExposition((await h2get(open(), '/metrics')).body)
    assert.equal(total(scrape, 'smooth_drains_forced_total'), 0)
  } finally {
    for (const s of sessions) s.destroy()
    p.kill()
  }
})
