import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { connect } from 'node:http2'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SmoothProcess, dist, until, killAll } from './helpers/proc.js'
import { reloadBySignal, restartBySignal } from './helpers/rollout.js'
import { httpsKeepAliveLoad, http2Load, selfSignedCertificate, type TlsLoad } from './helpers/tls-load.js'
import { parseExposition, total } from './helpers/exposition.js'
import { requires } from './helpers/requires.js'

after(killAll)
const root = mkdtempSync(join(tmpdir(), 'smooth-tls-roll-'))
after(() => rmSync(root, { recursive: true, force: true }))
let made: { cert: string; key: string } | undefined
/** Made on first use (openssl), so a machine without openssl skips rather than fails. */
const certificate = () => (made ??= selfSignedCertificate(root))

/** 5 reloads and 5 restarts, one after the other, while `load` runs; then the load's result. */
async function rollouts(p: SmoothProcess, load: TlsLoad) {
  await until('the load to get answers', () => load.result.ok > 100, 20_000)
  for (let i = 0; i < 5; i++) {
    await reloadBySignal(p, 60_000)
    await restartBySignal(p, 60_000)
  }
  return load.stop()
}

function h2get(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const session = connect(`https://127.0.0.1:${port}`, { rejectUnauthorized: false })
    session.on('error', reject)
    const req = session.request({ ':path': path })
    let body = ''
    req.setEncoding('utf8')
    req.on('data', (c: string) => (body += c))
    req.on('end', () => { session.close(); resolve(body) })
    req.on('error', reject)
  })
}

test('HTTPS: 50 keep-alive connections through 5 reloads and 5 restarts, no failed request', { timeout: 240_000, ...requires('openssl') }, async (t) => {
  const { cert, key } = certificate()
  const p = new SmoothProcess(dist('test/fixtures/app.js'), { GRACEFUL: '1', WORKERS: '2', SMOOTH_HTTPS_CERT_PATH: cert, SMOOTH_HTTPS_KEY_PATH: key })
  try {
    const port = await p.ready()
    const r = await rollouts(p, httpsKeepAliveLoad(`https://127.0.0.1:${port}`, { connections: 50, maxMs: 230_000 }))
    t.diagnostic(`answered ${r.ok}`)
    assert.deepEqual(r.failed, {}, 'failed requests by cause')
    assert.ok(r.ok > 1000, `requests answered: ${r.ok}`)
  } finally {
    p.kill()
  }
})

test('HTTP/2: 20 sessions x 10 streams through 5 reloads and 5 restarts, no stream failed, reset or refused by the server', { timeout: 240_000, ...requires('openssl') }, async (t) => {
  const { cert, key } = certificate()
  const p = new SmoothProcess(dist('test/fixtures/app.js'), { GRACEFUL: '1', WORKERS: '2', SMOOTH_HTTP2: 'true', SMOOTH_HTTPS_CERT_PATH: cert, SMOOTH_HTTPS_KEY_PATH: key })
  try {
    const port = await p.ready()
    const r = await rollouts(p, http2Load(`https://127.0.0.1:${port}`, { sessions: 20, streams: 10, maxMs: 230_000 }))
    t.diagnostic(`answered ${r.ok}; refused by the client's nghttp2 before sending, and retried: ${r.refused}`)
    assert.deepEqual(r.failed, {}, 'failed or reset streams by cause')
    assert.ok(r.ok > 1000, `streams answered: ${r.ok}`)
    const scrape = parseExposition(await h2get(port, '/metrics'))
    assert.equal(total(scrape, 'smooth_http2_streams_refused_total'), 0, 'streams refused by the server')
    // Every stream the workers answered reached the client: none was lost on the way.
    assert.equal(total(scrape, 'smooth_http_requests_total', { route: '/' }), r.ok, 'answered by the workers = received by the client')
    assert.equal(total(scrape, 'smooth_drains_forced_total'), 0)
  } finally {
    p.kill()
  }
})
