import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SmoothProcess, dist, killAll, until, isAlive } from './helpers/proc.js'
import { get, refused } from './helpers/http.js'
import { writeRelease, writeShellExe } from './helpers/release.js'
import { requires } from './helpers/requires.js'
import { freePort } from './helpers/ports.js'

after(killAll)
const root = mkdtempSync(join(tmpdir(), 'smooth-security-'))
after(() => rmSync(root, { recursive: true, force: true }))
const TOKEN = 'a-long-admin-token-for-the-security-tests'
const json = (body: string) => JSON.parse(body) as Record<string, unknown>
const code = (body: string) => json(body).code
function app(env: Record<string, string> = {}) {
  return new SmoothProcess(dist('test/fixtures/app.js'), { GRACEFUL: '1', WORKERS: '1', ...env })
}


test('through a real HAProxy on 127.0.0.1 (X-Forwarded-For): no token, everything refused; with the token, allowed', {
  timeout: 60_000,
  ...requires('haproxy'),
}, async () => {
  const open = app()
  const guarded = app({ SMOOTH_ADMIN_TOKEN: TOKEN })
  const cfg = join(root, 'haproxy.cfg')
  let haproxy: ReturnType<typeof spawn> | undefined
  try {
    const [openPort, guardedPort] = await Promise.all([open.ready(), guarded.ready()])
    const [front1, front2] = [await freePort(), await freePort()]
    writeFileSync(cfg, `defaults
  mode http
  option forwardfor
  timeout connect 2s
  timeout client 15s
  timeout server 15s
frontend open
  bind 127.0.0.1:${front1}
  default_backend open
frontend guarded
  bind 127.0.0.1:${front2}
  default_backend guarded
backend open
  server s1 127.0.0.1:${openPort}
backend guarded
  server s1 127.0.0.1:${guardedPort}
`)
    haproxy = spawn('haproxy', ['-f', cfg, '-db'], { stdio: ['ignore', 'ignore', 'pipe'] })
    await until('HAProxy to listen', async () => !(await refused(front1)) && !(await refused(front2)), 10_000)
    const viaProxy = `http://127.0.0.1:${front1}/debug/admin`
    // As a browser or curl would send it through the proxy (Host names the proxy), and with the
    // Host of the app itself: relayed either way.
    for (const host of [undefined, `127.0.0.1:${openPort}`]) {
      const headers: Record<string, string> = host ? { host } : {}
      for (const [path, method] of [['/status', 'GET'], ['/restart', 'POST'], ['/restart', 'GET'], ['/shutdown', 'POST'], ['/reload', 'GET']] as const) {
        const r = await get(`${viaProxy}${path}`, { method, headers })
        assert.equal(r.status, 403, `${method} ${path} (Host ${host ?? 'of the proxy'}) through the proxy: ${r.body}`)
        assert.ok(['SMOOTH_ADMIN_FORBIDDEN', 'SMOOTH_ADMIN_HOST'].includes(String(code(r.body))), r.body)
      }
      if (host) assert.equal(code((await get(`${viaProxy}/status`, { headers })).body), 'SMOOTH_ADMIN_FORBIDDEN', 'relayed: not local')
      const metrics = await get(`http://127.0.0.1:${front1}/metrics`, { headers })
      assert.equal(metrics.status, 403, 'metrics follow the admin rule by default')
    }
    // Directly on loopback the same admin answers, and it is still generation 1 (nothing was done).
    const direct = json((await get(`http://127.0.0.1:${openPort}/debug/admin/status`)).body)
    assert.equal(direct.generation, 1)
    assert.equal((direct.rollouts as unknown[]).length, 0)
    assert.equal((await get(`http://127.0.0.1:${openPort}/metrics`)).status, 200, 'a direct scrape on loopback')
    assert.ok(!open.logs.some((l) => l.msg === 'server shutting down'))

    // With the token, through the same proxy.
    const auth = { authorization: `Bearer ${TOKEN}` }
    const base = `http://127.0.0.1:${front2}/debug/admin`
    assert.equal((await get(`${base}/status`)).status, 401)
    const st = await get(`${base}/status`, { headers: auth })
    assert.equal(st.status, 200, st.body)
    const restart = await get(`${base}/restart`, { method: 'POST', headers: auth })
    assert.equal(restart.status, 202, restart.body)
    await until('generation 2 through the proxy', async () => {
      const s = await get(`${base}/status`, { headers: auth }).catch(() => undefined)
      return s?.status === 200 && json(s.body).generation === 2 && json(s.body).rollout === null
    }, 20_000)
    assert.equal((await get(`http://127.0.0.1:${front2}/metrics`, { headers: auth })).status, 200, 'a scrape with the token')
    const off = await get(`${base}/shutdown`, { method: 'POST', headers: auth })
    assert.equal(off.status, 200, off.body)
    assert.equal((await guarded.waitExit(20_000)).code, 0)
  } finally {
    if (haproxy?.pid && isAlive(haproxy.pid)) haproxy.kill('SIGKILL')
    open.kill()
    guarded.kill()
  }
})

test('DNS rebinding: Host evil.example with a same-origin Origin is refused; Host 127.0.0.1:PORT is served', { timeout: 40_000 }, async () => {
  const p = app()
  try {
    const port = await p.ready()
    const evil = { host: `evil.example:${port}`, origin: `http://evil.example:${port}`, 'sec-fetch-site': 'same-origin' }
    for (const [path, method] of [['/status', 'GET'], ['', 'GET'], ['/reload', 'POST'], ['/restart', 'GET'], ['/restart', 'POST'], ['/shutdown', 'POST']] as const) {
      const r = await get(`http://127.0.0.1:${port}/debug/admin${path}`, { method, headers: evil })
      assert.equal(r.status, 403, `${method} ${path}: ${r.body}`)
      assert.ok(['SMOOTH_ADMIN_HOST', 'SMOOTH_ADMIN_CROSS_SITE'].includes(String(code(r.body))), r.body)
    }
    // A loopback name on another port is another origin (another local web server's page).
    assert.equal(code((await get(`http://127.0.0.1:${port}/debug/admin/status`, { headers: { host: `localhost:${port + 1}` } })).body), 'SMOOTH_ADMIN_HOST')
    // Reads refuse a cross-site fetch too.
    const cross = await get(`http://127.0.0.1:${port}/debug/admin/status`, { headers: { 'sec-fetch-site': 'cross-site' } })
    assert.equal(cross.status, 403)
    assert.equal(code(cross.body), 'SMOOTH_ADMIN_CROSS_SITE')
    assert.equal(p.logs.filter((l) => /reloading|server shutting down/.test(l.msg)).length, 0, 'nothing was done')

    const good = { host: `127.0.0.1:${port}`, origin: `http://127.0.0.1:${port}`, 'sec-fetch-site': 'same-origin' }
    assert.equal((await get(`http://127.0.0.1:${port}/debug/admin/status`, { headers: good })).status, 200)
    assert.equal((await get(`http://localhost:${port}/debug/admin/status`)).status, 200)
    const reload = await get(`http://127.0.0.1:${port}/debug/admin/reload?wait=1`, { method: 'POST', headers: good, timeoutMs: 20_000 })
    assert.equal(reload.status, 200, reload.body)
    await until('the reload to be over', async () => json((await get(`http://127.0.0.1:${port}/debug/admin/status`)).body).rollout === null, 20_000)
    const off = await get(`http://127.0.0.1:${port}/debug/admin/shutdown`, { method: 'POST', headers: good })
    assert.equal(off.status, 200)
    assert.equal((await p.waitExit(20_000)).code, 0)
  } finally {
    p.kill()
  }
})

test('500 wrong tokens: 429 after a few, bounded log lines naming the client; the right token works from another client; the cookie is not the token; HEAD does nothing', { timeout: 60_000 }, async (t) => {
  const p = app({ SMOOTH_ADMIN_TOKEN: TOKEN, WORKERS: '2' })
  try {
    const port = await p.ready()
    const base = `http://127.0.0.1:${port}/debug/admin`
    const statuses: number[] = []
    const logsBefore = p.logs.length
    // 10 at a time, from 127.0.0.1.
    for (let i = 0; i < 500; i += 10) {
      const batch = await Promise.all(Array.from({ length: 10 }, (_, j) =>
        get(`${base}/status`, { headers: { authorization: `Bearer wrong-${i + j}` } })))
      statuses.push(...batch.map((r) => r.status))
    }
    const first429 = statuses.indexOf(429)
    t.diagnostic(`first 429 after ${first429} attempts; ${statuses.filter((s) => s === 429).length} of 500 were 429`)
    assert.ok(first429 >= 0, 'some attempts were refused with 429')
    // 5 failures per worker and window; 2 workers; one batch of 10 may be in flight at once.
    assert.ok(first429 <= 2 * 5 + 10, `the first 429 came after ${first429} attempts`)
    assert.ok(statuses.filter((s) => s === 429).length >= 450, `${statuses.filter((s) => s === 429).length} of 500 refused with 429`)
    assert.ok(statuses.every((s) => s === 401 || s === 429))
    const lines = p.logs.slice(logsBefore).filter((l) => /failed authentication/.test(l.msg))
    t.diagnostic(`${lines.length} log lines about the 500 failed attempts`)
    assert.ok(lines.length >= 1 && lines.length <= 2 * 2, `${lines.length} log lines about failed attempts`)
    assert.ok(lines.every((l) => l.client === '127.0.0.1'), 'each line names the client')
    // Another client is not affected, at once.
    const other = await get(`${base}/status`, { headers: { authorization: `Bearer ${TOKEN}` }, localAddress: '127.0.0.2' })
    assert.equal(other.status, 200, other.body)
    assert.equal((await get(`${base}/status`, { headers: { authorization: `Bearer ${TOKEN}` } })).status, 429, 'the guessing client stays locked out for the window')

    // The page cookie: a session value derived from the token, not the token.
    const login = await get(`${base}/login`, { method: 'POST', localAddress: '127.0.0.3', headers: { 'content-type': 'application/json', origin: `http://127.0.0.1:${port}` }, body: JSON.stringify({ token: TOKEN }) })
    assert.equal(login.status, 200, login.body)
    const cookie = String(login.headers['set-cookie']).split(';')[0]!
    assert.ok(!cookie.includes(TOKEN) && !decodeURIComponent(cookie).includes(TOKEN), 'the cookie does not contain the token')
    assert.equal((await get(`${base}/status`, { headers: { cookie }, localAddress: '127.0.0.3' })).status, 200)
    // The workers never had the token in their environment.
    const workers = (json((await get(`${base}/status`, { headers: { cookie } , localAddress: '127.0.0.3' })).body).workers as Array<{ pid: number }>).map((w) => w.pid)
    for (const pid of workers) assert.ok(!readFileSync(`/proc/${pid}/environ`, 'utf8').includes(TOKEN), `worker ${pid} has no token in its environment`)

    // HEAD on an action route, with the token: nothing happens.
    for (const action of ['reload', 'restart', 'shutdown']) {
      const head = await get(`${base}/${action}`, { method: 'HEAD', headers: { authorization: `Bearer ${TOKEN}` }, localAddress: '127.0.0.2' })
      assert.ok(head.status >= 400, `HEAD ${action}: ${head.status}`)
    }
    const st = json((await get(`${base}/status`, { headers: { cookie }, localAddress: '127.0.0.3' })).body)
    assert.equal(st.rollout, null)
    assert.equal((st.rollouts as unknown[]).length, 0, 'no rollout ran')
    assert.ok(!p.logs.some((l) => l.msg === 'server shutting down'))

    // The session survives a restart (the secret goes to the successor).
    const restart = await get(`${base}/restart?wait=1`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, localAddress: '127.0.0.2', timeoutMs: 30_000 })
    assert.equal(restart.status, 200, restart.body)
    await until('generation 2 to answer the cookie', async () => {
      const s = await get(`${base}/status`, { headers: { cookie }, localAddress: '127.0.0.3' }).catch(() => undefined)
      return s?.status === 200 && json(s.body).generation === 2
    }, 20_000)
  } finally {
    p.kill()
  }
})

test('allow-list: a 0666 .mjs, a symlink to one, node_modules/.bin and a foreign-writable script are refused with codes; nothing runs', { timeout: 40_000 }, async () => {
  const dir = join(root, 'app')
  const entry = writeRelease(dir, 'A')
  writeFileSync(join(dir, 'package.json'), '{"name":"app","type":"module"}\n')
  const loose = writeRelease(join(dir, 'loose'), 'B')
  chmodSync(loose, 0o666)
  symlinkSync(loose, join(dir, 'link.mjs'))
  mkdirSync(join(dir, 'node_modules', '.bin'), { recursive: true })
  writeShellExe(join(dir, 'node_modules', '.bin', 'x'), 'exit 0', true)
  const sh = writeShellExe(join(dir, 'group.sh'), 'exit 0', true)
  chmodSync(sh, 0o775)
  // Owned by another user (only root can give a file away; as anyone else this case is not built).
  const foreign = process.getuid?.() === 0 ? writeRelease(join(dir, 'foreign'), 'C') : undefined
  if (foreign) chownSync(foreign, 65534, 65534)
  const p = new SmoothProcess(entry, {})
  try {
    const port = await p.ready()
    const restart = (exe: string) => get(`http://127.0.0.1:${port}/debug/admin/restart?newExeFilePath=${encodeURIComponent(exe)}`)
    const expect: Array<[string, string]> = [
      [loose, 'SMOOTH_EXE_UNSAFE'],
      [join(dir, 'link.mjs'), 'SMOOTH_EXE_UNSAFE'],
      [join(dir, 'node_modules', '.bin', 'x'), 'SMOOTH_EXE_NOT_ALLOWED'],
      [sh, 'SMOOTH_EXE_UNSAFE'],
      ...(foreign ? [[foreign, 'SMOOTH_EXE_UNSAFE'] as [string, string]] : []),
    ]
    for (const [exe, want] of expect) {
      const r = await restart(exe)
      assert.equal(r.status, 403, `${exe}: ${r.body}`)
      assert.equal(code(r.body), want, exe)
    }
    assert.ok(!p.logs.some((l) => l.msg === 'successor started'), 'nothing was executed')
    chmodSync(loose, 0o644)
    const ok = await get(`http://127.0.0.1:${port}/debug/admin/restart?wait=1&newExeFilePath=${encodeURIComponent(loose)}`, { timeoutMs: 30_000 })
    assert.equal(ok.status, 200, ok.body)
  } finally {
    p.kill()
  }
})
