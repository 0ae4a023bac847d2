import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseAllDocuments } from 'yaml'
import { SmoothProcess, killAll, dist, ROOT, isAlive, until } from './helpers/proc.js'
import { get } from './helpers/http.js'
import { steadyLoad } from './helpers/load.js'
import { writeRelease } from './helpers/release.js'
import { livePrimary } from './helpers/rollout.js'
import { toMs } from '../src/config/schema.js'

after(killAll)
const root = mkdtempSync(join(tmpdir(), 'smooth-supervisors-'))
after(() => rmSync(root, { recursive: true, force: true }))

interface Container { env: Array<{ name: string; value?: string }>; readinessProbe: { httpGet: { path: string } }; lifecycle: { preStop: { exec: { command: string[] } } } }

test('the Kubernetes manifest: readiness on the ready route, a grace period that covers preStop and the drain', () => {
  const docs = parseAllDocuments(readFileSync(join(ROOT, 'deploy/kubernetes.yaml'), 'utf8')).map((d) => d.toJS() as Record<string, any>)
  const deployment = docs.find((d) => d.kind === 'Deployment')!
  const pod = deployment.spec.template.spec
  const c = pod.containers[0] as Container
  const env = Object.fromEntries(c.env.filter((e) => e.value !== undefined).map((e) => [e.name, e.value!]))
  assert.equal(c.readinessProbe.httpGet.path, `${env.SMOOTH_ADMIN_PATTERN}/ready`)
  assert.equal(env.SMOOTH_GRACEFUL, 'true')
  assert.deepEqual(c.lifecycle.preStop.exec.command.slice(0, 1), ['sleep'])
  const preStopS = Number(c.lifecycle.preStop.exec.command[1])
  const drainS = toMs(env.SMOOTH_GRACEFUL_SHUTDOWN_TIMEOUT, 30_000) / 1000
  assert.ok(pod.terminationGracePeriodSeconds >= preStopS + drainS + 5, `grace ${pod.terminationGracePeriodSeconds} s < preStop ${preStopS} s + drain ${drainS} s + 5 s`)
  assert.equal(deployment.spec.strategy.rollingUpdate.maxUnavailable, 0)
  assert.equal(pod.containers[0].stopSignal, undefined, 'SIGTERM (the default) is the graceful stop')
})

test('the ready route: no token needed, 200 at every poll through a smooth restart, not a single flap', { timeout: 60_000 }, async () => {
  const p = new SmoothProcess(dist('test/fixtures/app.js'), { GRACEFUL: '1', SMOOTH_ADMIN_TOKEN: 'probe-secret' })
  try {
    const port = await p.ready()
    assert.equal((await get(`http://127.0.0.1:${port}/debug/admin/status`)).status, 401, 'the status route does need the token')
    assert.equal((await get(`http://127.0.0.1:${port}/debug/admin/ready`, { method: 'HEAD' })).status, 200, 'HEAD, as some load balancers check')
    const polls: number[] = []
    const notReady: string[] = []
    let polling = true
    const poller = (async () => {
      while (polling && polls.length < 5000) {
        const r = await get(`http://127.0.0.1:${port}/debug/admin/ready`)
        polls.push(r.status)
        if (r.status !== 200) notReady.push(r.body)
      }
    })()
    const old = livePrimary(p).pid
    const from = p.logs.length
    p.signal('SIGUSR1')
    await p.waitFor('the old generation to be gone', (l) => l.msg === 'all servers shutdown' && l.pid === old, 30_000, from)
    polling = false
    await poller
    assert.ok(polls.length > 20, `only ${polls.length} polls`)
    assert.deepEqual([...new Set(polls)], [200], `readiness flapped: ${notReady.slice(0, 5).join(' ')}`)
  } finally {
    p.kill()
  }
})

test('the ready route stands outside the user\'s own auth hook too', { timeout: 30_000 }, async () => {
  const p = new SmoothProcess(dist('test/fixtures/app.js'), { GRACEFUL: '1', ADMIN_HOOK: '1' })
  try {
    const port = await p.ready()
    assert.equal((await get(`http://127.0.0.1:${port}/debug/admin/status`)).status, 401, 'the hook guards the rest')
    assert.equal((await get(`http://127.0.0.1:${port}/debug/admin/ready`)).status, 200)
  } finally {
    p.kill()
  }
})

/** systemd's unit, read as systemd reads it (the keys we rely on). */
function unit(path: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line.trim())
    if (m) out[m[1]!] = m[2]!
  }
  return out
}

test('the systemd unit, its supervisor simulated: ExecReload restarts onto the new code, MAINPID and the pid file hold, KillSignal drains', { timeout: 90_000 }, async () => {
  const u = unit(join(ROOT, 'deploy/smooth.service'))
  assert.equal(u.Type, 'simple')
  assert.equal(u.KillSignal, 'SIGTERM')
  assert.equal(u.KillMode, 'mixed')
  assert.ok(Number(u.TimeoutStopSec) * 1000 > 30_000, 'TimeoutStopSec outlasts gracefulShutdownTimeout')
  const pidFile = join(root, 'smooth.pid')
  const app = writeRelease(join(root, 'unit'), 'A')
  // ExecStart: the anchor, as systemd starts it; its pid is MAINPID for the service's whole life.
  const p = new SmoothProcess(app, { SMOOTH_PID_FILE: pidFile })
  try {
    const port = await p.ready()
    const mainPid = p.pid
    assert.equal(readFileSync(pidFile, 'utf8').trim(), String(mainPid))
    const load = steadyLoad(`http://127.0.0.1:${port}/`, { concurrency: 2, maxMs: 60_000 })
    for (let i = 0; i < 3; i++) {
      const old = livePrimary(p).pid
      const from = p.logs.length
      // `systemctl reload`: ExecReload with $MAINPID filled in, run by a shell as systemd would.
      execFileSync('/bin/sh', ['-c', u.ExecReload!.replaceAll('$MAINPID', String(mainPid))])
      await p.waitFor('the old generation to be gone', (l) => l.msg === 'all servers shutdown' && l.pid === old, 30_000, from)
      await until('the new generation to be live', () => livePrimary(p).pid !== old, 10_000)
      assert.ok(isAlive(mainPid), 'MAINPID is alive')
      assert.equal(readFileSync(pidFile, 'utf8').trim(), String(mainPid), 'the pid file still names MAINPID')
    }
    const result = await load.stop()
    assert.equal(result.failed, 0, `failed requests: ${result.errors.join('; ')}`)
    // `systemctl stop`: KillSignal to MAINPID; the drain ends well inside TimeoutStopSec.
    process.kill(mainPid, u.KillSignal as NodeJS.Signals)
    assert.equal((await p.waitExit(Number(u.TimeoutStopSec) * 1000)).code, 0)
  } finally {
    p.kill()
  }
})

test('the anchor-off systemd unit, its supervisor simulated: MAINPID follows the pid file across restarts, KillSignal drains', { timeout: 90_000 }, async () => {
  const u = unit(join(ROOT, 'deploy/smooth-noanchor.service'))
  assert.equal(u.Type, 'notify')
  assert.equal(u.NotifyAccess, 'all')
  assert.ok(readFileSync(join(ROOT, 'deploy/smooth-noanchor.service'), 'utf8').includes('Environment=SMOOTH_ANCHOR=0'))
  const pidFile = join(root, 'noanchor.pid')
  const p = new SmoothProcess(writeRelease(join(root, 'unit-noanchor'), 'A'), { SMOOTH_ANCHOR: '0', SMOOTH_PID_FILE: pidFile })
  try {
    const port = await p.ready()
    const load = steadyLoad(`http://127.0.0.1:${port}/`, { concurrency: 2, maxMs: 60_000 })
    let mainPid = Number(readFileSync(pidFile, 'utf8'))
    assert.equal(mainPid, p.pid)
    for (let i = 0; i < 3; i++) {
      execFileSync('/bin/sh', ['-c', u.ExecReload!.replaceAll('$MAINPID', String(mainPid))])
      // What systemd learns (MAINPID= by notify, or by re-reading PIDFile): the new generation, alive,
      // written only once it has taken over; then the old main pid exits.
      const old = mainPid
      await until('the pid file to name a new, live primary', () => {
        const named = Number(readFileSync(pidFile, 'utf8'))
        return named !== old && isAlive(named)
      }, 30_000)
      mainPid = Number(readFileSync(pidFile, 'utf8'))
      await until(`old main pid ${old} to exit`, () => !isAlive(old), 15_000)
      assert.equal((await get(`http://127.0.0.1:${port}/`)).body, 'A')
    }
    const result = await load.stop()
    assert.equal(result.failed, 0, `failed requests: ${result.errors.join('; ')}`)
    process.kill(mainPid, u.KillSignal as NodeJS.Signals)
    await until('the last main pid to exit', () => !isAlive(mainPid), Number(u.TimeoutStopSec) * 1000)
  } finally {
    p.kill()
  }
})

