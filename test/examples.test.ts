import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { execFileSync } from 'node:child_process'
import { SmoothProcess, dist, isAlive, until, killAll } from './helpers/proc.js'
import { get } from './helpers/http.js'
import { requires } from './helpers/requires.js'

after(killAll)

test('Example 3: two servers on four ports share the workers; a reload through s1\'s admin replaces the workers of both; s2\'s admin shutdown stops all', { timeout: 60_000 }, async () => {
  const p = new SmoothProcess(dist('examples/multi.js'), { HOST: '127.0.0.1', PORTS: '0,0,0,0' })
  try {
    await p.ready()
    const listening = p.logs.filter((l) => /^http server started listening/.test(l.msg))
    assert.equal(listening.length, 4)
    for (const l of listening) {
      const r = await get(`http://127.0.0.1:${l.port}/`)
      assert.equal(r.body, `${l.server}\n`, `port ${l.port} answers as ${l.server}`)
    }
    const s1 = listening.find((l) => l.server === 's1')!
    const s2 = listening.find((l) => l.server === 's2')!
    const before = p.workerPids()
    const reload = await get(`http://127.0.0.1:${s1.port}/debug/admin/reload`)
    assert.equal(reload.status, 202, reload.body)
    await p.waitForMsg('workers reloaded', 30_000)
    for (const l of [s1, s2]) {
      const pid = Number((await get(`http://127.0.0.1:${l.port}/pid`)).body)
      assert.ok(!before.includes(pid), `${l.server} answers from a new worker`)
    }
    const r = await get(`http://127.0.0.1:${s2.port}/debug/admin/shutdown`)
    assert.equal(r.status, 200)
    const pids = p.allPids()
    assert.deepEqual(await p.waitExit(15_000), { code: 0, signal: null })
    await until('every process gone', () => pids.every((pid) => !isAlive(pid)), 5000)
  } finally {
    p.kill()
  }
})

test('Example 2: HTTPS with a given certificate; a missing key file is a clear error', requires('openssl'), async () => {
  const dir = mkdtempSync(join(tmpdir(), 'smooth-tls-'))
  const cert = join(dir, 'c.pem')
  const key = join(dir, 'k.pem')
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost',
    '-keyout', key, '-out', cert], { stdio: 'ignore' })
  const ok = new SmoothProcess(dist('examples/https.js'), { HOST: '127.0.0.1', PORT: '0', CERT: cert, KEY: key })
  const missing = new SmoothProcess(dist('examples/https.js'), { HOST: '127.0.0.1', PORT: '0', CERT: cert, KEY: join(dir, 'nope.pem') })
  try {
    const port = await ok.ready()
    assert.ok(ok.logs.some((l) => l.msg === `https server started listening on [127.0.0.1:${port}]`))
    const r = await get(`https://127.0.0.1:${port}/`)
    assert.equal(r.body, 'Hello! (https)\n')
    const exit = await missing.waitExit(15_000)
    assert.equal(exit.code, 1)
    assert.match(missing.stderr, /SMOOTH_CERT_UNREADABLE: /)
    assert.ok(missing.stderr.includes(join(dir, 'nope.pem')), `the error names the file: ${missing.stderr}`)
  } finally {
    ok.kill()
    missing.kill()
    rmSync(dir, { recursive: true, force: true })
  }
})

test('Example 2 without a certificate generates a development one with openssl; https://…/debug/admin/restart restarts the HTTPS service', { timeout: 60_000, ...requires('openssl') }, async () => {
  const p = new SmoothProcess(dist('examples/https.js'), { HOST: '127.0.0.1', PORT: '0' })
  try {
    const port = await p.ready(30_000)
    assert.equal((await get(`https://127.0.0.1:${port}/`)).body, 'Hello! (https)\n', 'served with the generated certificate')
    const r = await get(`https://127.0.0.1:${port}/debug/admin/restart`)
    assert.equal(r.status, 202, r.body)
    await p.waitFor('the new generation', (l) => l.msg === 'server ready' && l.generation === 2, 30_000)
    assert.ok(p.logs.some((l) => l.msg === `https server restarted listening on [127.0.0.1:${port}]`))
    assert.equal((await get(`https://127.0.0.1:${port}/`)).body, 'Hello! (https)\n')
  } finally {
    p.kill()
  }
})
