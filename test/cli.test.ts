import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { promisify } from 'node:util'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SmoothProcess, dist, killAll, until, isAlive } from './helpers/proc.js'
import { get, refused } from './helpers/http.js'
import { steadyLoad } from './helpers/load.js'
import { writeRelease } from './helpers/release.js'
import { requires } from './helpers/requires.js'
import { freePort } from './helpers/ports.js'

after(killAll)
const run = promisify(execFile)
const root = mkdtempSync(join(tmpdir(), 'smooth-cli-'))
after(() => rmSync(root, { recursive: true, force: true }))
const CLI = dist('src/cli/smooth.js')

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], { timeout: 120_000 })
    return { code: 0, out: stdout, err: stderr }
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string }
    return { code: err.code, out: err.stdout, err: err.stderr }
  }
}

test('smooth status, reload, restart: progress as it happens and exit codes', { timeout: 90_000 }, async () => {
  const p = new SmoothProcess(dist('test/fixtures/app.js'), { GRACEFUL: '1', WORKERS: '2', SMOOTH_ADMIN_TOKEN: 'tok' })
  try {
    const port = await p.ready()
    const url = `http://127.0.0.1:${port}/debug/admin`
    const status = await cli('status', '--url', url, '--token', 'tok')
    assert.equal(status.code, 0, status.err)
    assert.match(status.out, /generation 1, primary \d+, anchor \d+, serving/)
    assert.equal((await cli('status', '--url', url)).code, 3, 'no token: unreachable (401)')
    const reload = await cli('reload', '--url', url, '--token', 'tok')
    assert.equal(reload.code, 0, reload.out + reload.err)
    // Progress as it happens: at least one worker counted before the end (with surge, both may come in one poll).
    assert.match(reload.out, /reload #1: [12]\/2/)
    assert.match(reload.out, /reload done in [\d.]+ s, healthy \(generation 1, 2 workers ready\)/)
    const restart = await cli('restart', '--url', url, '--token', 'tok', '--json')
    assert.equal(restart.code, 0, restart.out + restart.err)
    const events = restart.out.trim().split('\n').map((l) => JSON.parse(l) as { event: string; generation?: number; done?: number })
    assert.ok(events.some((e) => e.event === 'progress' && (e.done ?? 0) >= 1), 'a progress event with a worker ready (the successor boots its workers side by side, so 1 may be skipped)')
    assert.equal(events.at(-1)!.event, 'done')
    assert.equal(events.at(-1)!.generation, 2)
    const refusedExe = await cli('restart', '--url', url, '--token', 'tok', '--exe', '/bin/sh', '--json')
    assert.equal(refusedExe.code, 1)
    assert.equal((JSON.parse(refusedExe.out.trim().split('\n').at(-1)!) as { code?: string }).code, 'SMOOTH_EXE_NOT_ALLOWED')
    assert.equal((await cli('frobnicate')).code, 2)
    assert.equal((await cli('shutdown', '--url', url, '--token', 'tok')).code, 0)
    assert.equal((await p.waitExit(20_000)).code, 0)
  } finally {
    p.kill()
  }
})

/** The code of a CLI failure, from its --json output or its stderr line. */
function codeOf(r: { out: string; err: string }): string | undefined {
  const last = r.out.trim().split('\n').filter(Boolean).at(-1)
  return (last ? (JSON.parse(last) as { code?: string }).code : undefined) ?? /SMOOTH_[A-Z_]+/.exec(r.err)?.[0]
}

test('smooth --pid-file: signals, then waits for the outcome and reports it with the usual exit codes', { timeout: 90_000 }, async () => {
  const pidFile = join(root, 'smooth.pid')
  const p = new SmoothProcess(dist('test/fixtures/app.js'), { GRACEFUL: '1', WORKERS: '1', SMOOTH_PID_FILE: pidFile })
  try {
    await p.ready()
    const none = join(root, 'none.pid')
    writeFileSync(none, '999999999\n')
    assert.equal((await cli('reload', '--pid-file', none)).code, 3, 'no such process')
    const both = await cli('reload', '--pid-file', pidFile, '--url', 'http://127.0.0.1:1/debug/admin', '--json')
    assert.deepEqual([both.code, codeOf(both)], [2, 'SMOOTH_CLI_CONFLICT'])
    const exe = await cli('restart', '--pid-file', pidFile, '--exe', '/srv/app/v3/app.js', '--json')
    assert.deepEqual([exe.code, codeOf(exe)], [2, 'SMOOTH_CLI_EXE_BY_SIGNAL'])
    assert.ok(!p.logs.some((l) => l.msg === 'server reloading'), 'nothing was signalled')

    const reload = await cli('reload', '--pid-file', pidFile, '--json')
    assert.equal(reload.code, 0, reload.out + reload.err)
    assert.ok(p.logs.some((l) => l.msg === 'workers reloaded'), 'it returned after the reload, not before')
    const restart = await cli('restart', '--pid-file', pidFile, '--json')
    assert.equal(restart.code, 0, restart.out + restart.err)
    const done = JSON.parse(restart.out.trim().split('\n').at(-1)!) as { event: string; generation: number }
    assert.deepEqual([done.event, done.generation], ['done', 2])
    const status = await cli('status', '--pid-file', pidFile, '--json')
    assert.equal((JSON.parse(status.out) as { generation: number }).generation, 2)

    const stop = await cli('shutdown', '--pid-file', pidFile)
    assert.equal(stop.code, 0, stop.out + stop.err)
    assert.equal((await p.waitExit(5_000)).code, 0, 'the server exits 0')
  } finally {
    p.kill()
  }
  // A signal the server refuses (graceful off) is reported as refused, with the server's code.
  const offFile = join(root, 'off.pid')
  const off = new SmoothProcess(dist('test/fixtures/app.js'), { WORKERS: '1', SMOOTH_PID_FILE: offFile })
  try {
    await off.ready()
    const refusedReload = await cli('reload', '--pid-file', offFile, '--json')
    assert.deepEqual([refusedReload.code, codeOf(refusedReload)], [1, 'SMOOTH_GRACEFUL_DISABLED'])
  } finally {
    off.kill()
  }
})


test('fleet restart across three hosts behind HAProxy under load; a failure on host 2 stops the fleet', { timeout: 180_000, ...requires('haproxy') }, async () => {
  const releases = join(root, 'releases')
  const a = writeRelease(join(releases, 'A'), 'A')
  const b = writeRelease(join(releases, 'B'), 'B')
  const hosts = ['127.0.0.2', '127.0.0.3', '127.0.0.4'].map((ip, i) => new SmoothProcess(a, {
    ADDRESS: `${ip}:0`,
    // host 2 refuses the B path: the fleet must stop there
    SMOOTH_ADMIN_EXE_ALLOW_LIST: i === 1 ? join(root, 'nowhere') : releases,
  }))
  const front = await freePort()
  const cfg = join(root, 'haproxy.cfg')
  let haproxy: ReturnType<typeof spawn> | undefined
  try {
    const ports = await Promise.all(hosts.map((h) => h.ready()))
    writeFileSync(cfg, `global
  maxconn 2000
defaults
  mode http
  timeout connect 2s
  timeout client 15s
  timeout server 15s
  retries 3
  option redispatch
frontend fe
  bind 127.0.0.1:${front}
  default_backend be
backend be
  balance roundrobin
  retry-on conn-failure empty-response response-timeout
${ports.map((port, i) => `  server s${i + 1} 127.0.0.${i + 2}:${port} check inter 300ms`).join('\n')}
`)
    haproxy = spawn('haproxy', ['-f', cfg, '-db'], { stdio: ['ignore', 'ignore', 'pipe'] })
    await until('HAProxy to listen', async () => !(await refused(front)), 10_000)
    const load = steadyLoad(`http://127.0.0.1:${front}/`, { concurrency: 4, maxMs: 120_000 })
    const urls = ports.map((port, i) => `http://127.0.0.${i + 2}:${port}/debug/admin`)
    // The admin answers loopback clients only: 127.0.0.x are loopback.
    const fleet = await cli('restart', ...urls.flatMap((u) => ['--url', u]))
    assert.equal(fleet.code, 0, fleet.out + fleet.err)
    assert.match(fleet.out, /fleet restart done: 3 hosts/)
    const order = [...fleet.out.matchAll(/host (\d) of 3\): restart done/g)].map((m) => m[1])
    assert.deepEqual(order, ['1', '2', '3'], 'one host after the other')

    const broken = await cli('restart', '--exe', b, ...urls.flatMap((u) => ['--url', u]))
    assert.equal(broken.code, 1)
    assert.match(broken.out, /host 2 of 3\): restart failed: SMOOTH_EXE_NOT_ALLOWED: .*Fleet rollout stopped at host 2 of 3; hosts 3\.\.3 were not touched/)
    const r = await load.stop()
    assert.equal(r.failed, 0, `failed requests through HAProxy: ${r.errors.join('; ')}`)
    assert.ok(r.ok > 100)
    assert.equal((await get(`http://127.0.0.2:${ports[0]}/`)).body, 'B', 'host 1 runs B')
    assert.equal((await get(`http://127.0.0.3:${ports[1]}/`)).body, 'A', 'host 2 still runs A')
    const third = JSON.parse((await get(`${urls[2]}/status`)).body) as { generation: number }
    assert.equal(third.generation, 2, 'host 3 was restarted once (the first fleet run) and not again')
  } finally {
    if (haproxy?.pid && isAlive(haproxy.pid)) haproxy.kill('SIGKILL')
    for (const h of hosts) h.kill()
  }
})
