import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SmoothProcess, dist, killAll, until } from './helpers/proc.js'
import { get } from './helpers/http.js'
import { livePrimary } from './helpers/rollout.js'
import { writeRelease } from './helpers/release.js'
import { isLoopback } from '../src/admin/guard.js'

after(killAll)
const root = mkdtempSync(join(tmpdir(), 'smooth-admin-'))
after(() => rmSync(root, { recursive: true, force: true }))
const TOKEN = 's3cret-token-for-tests'

const json = (body: string) => JSON.parse(body) as Record<string, unknown>
function app(env: Record<string, string> = {}) {
  return new SmoothProcess(dist('test/fixtures/app.js'), { GRACEFUL: '1', WORKERS: '2', ...env })
}

// One server for both: the allow-list checks need nothing the loopback-only checks change.
test('loopback-only without auth: loopback clients are served, a warning is logged; newExeFilePath outside the allow-list is 403 and nothing runs, a missing one inside is 400', async () => {
  assert.ok(isLoopback('127.0.0.1') && isLoopback('::1') && isLoopback('::ffff:127.0.0.9'))
  assert.ok(!isLoopback('10.0.0.1') && !isLoopback('::ffff:192.168.1.2') && !isLoopback(undefined))
  const allowed = join(root, 'allowed')
  const good = writeRelease(join(allowed, 'b'), 'B')
  symlinkSync('/bin/sh', join(allowed, 'sh-link'))
  const p = app({ SMOOTH_ADMIN_EXE_ALLOW_LIST: allowed })
  try {
    const port = await p.ready()
    assert.ok(p.logs.some((l) => l.code === 'SMOOTH_ADMIN_NO_TOKEN'), 'the start-up warning')
    const page = await get(`http://127.0.0.1:${port}/debug/admin`)
    assert.equal(page.status, 200)
    assert.match(String(page.headers['content-type']), /text\/html/)
    assert.doesNotMatch(page.body, /<script src=|<link /, 'no external assets')
    const st = await get(`http://127.0.0.1:${port}/debug/admin/status`)
    assert.equal(json(st.body).generation, 1)
    assert.equal((json(st.body).workers as unknown[]).length, 2)
    // GET actions work on loopback without auth, as the seed's links do; a browser's cross-site one does not.
    const cross = await get(`http://127.0.0.1:${port}/debug/admin/reload`, { headers: { 'sec-fetch-site': 'cross-site' } })
    assert.equal(cross.status, 403)
    const foreign = await get(`http://127.0.0.1:${port}/debug/admin/reload`, { method: 'POST', headers: { origin: 'http://evil.example' } })
    assert.equal(foreign.status, 403)
    const r = await get(`http://127.0.0.1:${port}/debug/admin/reload?wait=1`)
    assert.equal(r.status, 200, r.body)
    assert.equal((json(r.body).rollout as { kind?: string }).kind, 'reload')
    // wait=1 from a worker is answered just before that worker drains: the reload ends a moment later.
    await p.waitForMsg('workers reloaded', 30_000)

    const restart = (exe: string) => get(`http://127.0.0.1:${port}/debug/admin/restart?newExeFilePath=${encodeURIComponent(exe)}`)
    for (const exe of ['/bin/sh', '../../x', join(allowed, '..', 'x'), join(allowed, 'sh-link')]) {
      const r = await restart(exe)
      assert.equal(r.status, 403, `${exe}: ${r.body}`)
      assert.equal(json(r.body).code, 'SMOOTH_EXE_NOT_ALLOWED')
    }
    const missing = await restart(join(allowed, 'nope.mjs'))
    assert.equal(missing.status, 400)
    assert.equal(json(missing.body).code, 'SMOOTH_EXE_NOT_FOUND')
    assert.ok(!p.logs.some((l) => l.msg === 'successor started'), 'nothing was executed')
    const restarted = await get(`http://127.0.0.1:${port}/debug/admin/restart?wait=1&newExeFilePath=${encodeURIComponent(good)}`, { timeoutMs: 30_000 })
    assert.equal(restarted.status, 200, restarted.body)
    await until('B to answer', async () => (await get(`http://127.0.0.1:${port}/`)).body === 'B', 10_000)
  } finally {
    p.kill()
  }
})

test('token: 401 without it, Bearer for anything, the page cookie reads and acts only by same-origin POST', async () => {
  const p = app({ SMOOTH_ADMIN_TOKEN: TOKEN })
  try {
    const port = await p.ready()
    const base = `http://127.0.0.1:${port}/debug/admin`
    assert.equal((await get(`${base}/status`)).status, 401)
    assert.equal((await get(`${base}/status`, { headers: { authorization: 'Bearer nope' } })).status, 401)
    assert.equal((await get(`${base}/reload`)).status, 401)
    assert.equal((await get(`${base}/status`, { headers: { authorization: `Bearer ${TOKEN}` } })).status, 200)
    assert.equal((await get(`${base}`)).status, 200, 'the page shell loads and asks for the token')
    const bad = await get(`${base}/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: 'x' }) })
    assert.equal(bad.status, 401)
    const login = await get(`${base}/login`, { method: 'POST', headers: { 'content-type': 'application/json', origin: `http://127.0.0.1:${port}` }, body: JSON.stringify({ token: TOKEN }) })
    assert.equal(login.status, 200)
    const setCookie = String(login.headers['set-cookie'])
    assert.match(setCookie, /HttpOnly/)
    assert.match(setCookie, /SameSite=Strict/)
    const cookie = setCookie.split(';')[0]!
    assert.equal((await get(`${base}/status`, { headers: { cookie } })).status, 200)
    const csrfGet = await get(`${base}/reload`, { headers: { cookie } })
    assert.equal(csrfGet.status, 403)
    assert.equal(json(csrfGet.body).code, 'SMOOTH_ADMIN_CSRF')
    assert.equal((await get(`${base}/reload`, { method: 'POST', headers: { cookie } })).status, 403, 'POST without same-origin proof')
    assert.equal((await get(`${base}/reload`, { method: 'POST', headers: { cookie, origin: 'http://evil.example' } })).status, 403)
    const ok = await get(`${base}/reload`, { method: 'POST', headers: { cookie, origin: `http://127.0.0.1:${port}` } })
    assert.equal(ok.status, 202)
    // one rollout at a time
    const busy = await get(`${base}/restart`, { headers: { authorization: `Bearer ${TOKEN}` } })
    assert.equal(busy.status, 409)
    assert.equal(json(busy.body).code, 'SMOOTH_ROLLOUT_IN_PROGRESS')
    const cross = await get(`${base}/restart`, { headers: { authorization: `Bearer ${TOKEN}`, 'sec-fetch-site': 'cross-site' } })
    assert.equal(cross.status, 403, 'cross-site is refused even with a token')
  } finally {
    p.kill()
  }
})

test('custom pattern, POST and GET on every route, and the user auth hook', async () => {
  const p = app({ ADMIN_PATTERN: '/ops/private', ADMIN_HOOK: '1' })
  try {
    const port = await p.ready()
    const base = `http://127.0.0.1:${port}/ops/private`
    assert.equal((await get(`http://127.0.0.1:${port}/debug/admin/status`)).status, 404)
    assert.equal((await get(`${base}/status`)).status, 401, 'the user hook refuses')
    const user = { 'x-user': 'ok' }
    assert.equal((await get(`${base}/status`, { headers: user })).status, 200)
    assert.equal((await get(`${base}`, { headers: user })).status, 200)
    // A wait=1 answer served by a worker comes as that last old worker starts draining: the rollout
    // is over once it has drained.
    const idle = () => until('the rollout to be over', async () => json((await get(`${base}/status`, { headers: user })).body).rollout === null, 30_000)
    for (const method of ['GET', 'POST']) {
      const r = await get(`${base}/reload?wait=1`, { method, headers: user, timeoutMs: 30_000 })
      assert.equal(r.status, 200, `${method} reload: ${r.body}`)
      await idle()
    }
    const restart = await get(`${base}/restart?wait=1`, { method: 'POST', headers: user, timeoutMs: 30_000 })
    assert.equal(restart.status, 200, restart.body)
    await until('the new generation to serve status, the restart done', async () => {
      const st = json((await get(`${base}/status`, { headers: user })).body)
      return st.generation === 2 && st.rollout === null
    }, 10_000)
    const history = json((await get(`${base}/status`, { headers: user })).body).rollouts as Array<{ kind: string; result: string }>
    assert.deepEqual(history.map((h) => [h.kind, h.result]), [['restart', 'success'], ['reload', 'success'], ['reload', 'success']], 'history carries over the restart')
    const off = await get(`${base}/shutdown`, { method: 'POST', headers: user })
    assert.equal(off.status, 200)
    assert.equal((await p.waitExit(20_000)).code, 0)
  } finally {
    p.kill()
  }
})

test('a separate admin address is served by the primary and survives restarts', async () => {
  const p = app({ SMOOTH_ADMIN_ADDRESS: '127.0.0.1:0', SMOOTH_ADMIN_TOKEN: TOKEN })
  try {
    await p.ready()
    const line = await p.waitForMsg(/^admin server listening/)
    const base = `http://127.0.0.1:${line.port}/debug/admin`
    const auth = { authorization: `Bearer ${TOKEN}` }
    assert.equal((await get(`${base}/status`)).status, 401)
    const first = livePrimary(p).pid
    const r = await get(`${base}/restart?wait=1`, { method: 'POST', headers: auth, timeoutMs: 30_000 })
    assert.equal(r.status, 200, r.body)
    await until('the admin address to answer from the new primary', async () => {
      const st = await get(`${base}/status`, { headers: auth }).catch(() => undefined)
      return st?.status === 200 && json(st.body).pid !== first
    }, 15_000)
    const again = await get(`${base}/reload?wait=1`, { method: 'POST', headers: auth, timeoutMs: 30_000 })
    assert.equal(again.status, 200, again.body)
  } finally {
    p.kill()
  }
})
