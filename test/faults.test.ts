import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect } from 'node:net'
import { SmoothProcess, until, killAll, isAlive } from './helpers/proc.js'
import { get, startRequest } from './helpers/http.js'
import { steadyLoad } from './helpers/load.js'
import { writeRelease } from './helpers/release.js'
import { livePrimary, restartBySignal } from './helpers/rollout.js'
import { groupPids } from './helpers/group.js'

after(killAll)
const root = mkdtempSync(join(tmpdir(), 'smooth-faults-'))
after(() => rmSync(root, { recursive: true, force: true }))

/** Connects to the status channel and says hello with a wrong token; resolves when the server hangs up. */
function wrongToken(address: string): Promise<void> {
  const [host, port] = address.split(':')
  return new Promise((resolve, reject) => {
    const s = connect({ host, port: Number(port) })
    s.on('error', reject)
    s.on('connect', () => s.write(JSON.stringify({ t: 'hello', token: 'f'.repeat(64), pid: 1, generation: 99 }) + '\n'))
    s.on('close', () => resolve())
    s.resume()
  })
}

test('a status-channel connection with a wrong token is refused and logged; the restart still succeeds', { timeout: 60_000 }, async () => {
  const p = new SmoothProcess(writeRelease(join(root, 'token'), 'A', 'slow-start'), {})
  try {
    await p.ready()
    const old = livePrimary(p).pid
    const from = p.logs.length
    p.signal('SIGUSR1')
    const started = await p.waitForMsg('successor started', 10_000, from)
    await wrongToken(String(started.statusChannel))
    const refused = await p.waitFor('the refusal to be logged', (l) => l.msg === 'status channel: connection refused', 5000, from)
    assert.equal(refused.why, 'bad token')
    await p.waitFor('the old primary to hand over', (l) => l.msg === 'all servers shutdown' && l.pid === old, 30_000, from)
    // The two primaries log through different pipes: the successor's line may come a moment later.
    await p.waitFor('the new primary to be ready', (l) => l.msg === 'server ready' && l.role === 'primary' && l.pid !== old, 10_000, from)
  } finally {
    p.kill()
  }
})

test('kill -9 of the new primary during its start-up: the old one keeps serving and reports it', { timeout: 60_000 }, async () => {
  const p = new SmoothProcess(writeRelease(join(root, 'kill'), 'A', 'slow-start'), {})
  try {
    const port = await p.ready()
    const tree = groupPids(p.pid)
    const old = livePrimary(p).pid
    const load = steadyLoad(`http://127.0.0.1:${port}/`, { concurrency: 4, maxMs: 30_000 })
    const from = p.logs.length
    p.signal('SIGUSR1')
    const started = await p.waitForMsg('successor started', 10_000, from)
    process.kill(Number(started.successor), 'SIGKILL')
    const failed = await p.waitFor('the failure report', (l) => /^server restarts failed/.test(l.msg), 20_000, from)
    assert.equal(failed.code, 'SMOOTH_SUCCESSOR_EXITED')
    const okAtFailure = load.result.ok
    await until('requests still served after the failure', () => load.result.ok > okAtFailure + 50, 10_000)
    const r = await load.stop()
    assert.equal(r.failed, 0, r.errors.join('; '))
    assert.equal(livePrimary(p).pid, old)
    await until('the tree to be as before', () => groupPids(p.pid).join() === tree.join(), 10_000)
  } finally {
    p.kill()
  }
})

test('SIGTERM during a restart: the whole tree shuts down gracefully and in-flight requests finish', { timeout: 60_000 }, async () => {
  const p = new SmoothProcess(writeRelease(join(root, 'term'), 'A', 'slow-start'), {})
  try {
    const port = await p.ready()
    const slow = startRequest(`http://127.0.0.1:${port}/slow`)
    const from = p.logs.length
    p.signal('SIGUSR1')
    await p.waitForMsg('successor started', 10_000, from)
    p.signal('SIGTERM')
    const reply = await slow.done
    assert.equal(reply.status, 200)
    assert.equal(reply.body, 'A')
    assert.deepEqual(await p.waitExit(30_000), { code: 0, signal: null })
    await until('every process of the tree to be gone', () => groupPids(p.pid).length === 0, 10_000)
  } finally {
    p.kill()
  }
})

test('SIGTERM during a reload: the whole tree shuts down gracefully', { timeout: 60_000 }, async () => {
  const p = new SmoothProcess(writeRelease(join(root, 'term-reload'), 'A'), {})
  try {
    const port = await p.ready()
    const slow = startRequest(`http://127.0.0.1:${port}/slow`)
    const from = p.logs.length
    p.signal('SIGUSR2')
    await p.waitForMsg('workers reloading', 10_000, from)
    p.signal('SIGTERM')
    assert.equal((await slow.done).status, 200)
    assert.deepEqual(await p.waitExit(30_000), { code: 0, signal: null })
    await until('every process of the tree to be gone', () => groupPids(p.pid).length === 0, 10_000)
  } finally {
    p.kill()
  }
})

test('anchor off: each generation rewrites the pid file atomically; signals go to the pid it names', { timeout: 60_000 }, async () => {
  const pidFile = join(root, 'noanchor.pid')
  const p = new SmoothProcess(writeRelease(join(root, 'noanchor'), 'A'), { SMOOTH_ANCHOR: '0', SMOOTH_PID_FILE: pidFile })
  try {
    const port = await p.ready()
    assert.equal(readFileSync(pidFile, 'utf8').trim(), String(p.pid), 'the first primary is the process started')
    const from = p.logs.length
    process.kill(Number(readFileSync(pidFile, 'utf8')), 'SIGUSR1')
    // Not waitFor: the process started is the first primary, which exits after the handover, maybe
    // before its successor's 'server ready' line comes through the stdout they share.
    await until('the new generation', () => p.logs.slice(from).some((l) => l.msg === 'server ready' && l.pid !== p.pid), 30_000)
    const next = livePrimary(p).pid
    await until('the pid file to name the new primary', () => readFileSync(pidFile, 'utf8').trim() === String(next), 10_000)
    await until('the first primary to exit', () => !isAlive(p.pid), 15_000)
    assert.equal((await get(`http://127.0.0.1:${port}/`)).body, 'A')
    process.kill(next, 'SIGTERM')
    await until('the tree to be gone', () => groupPids(p.pid).length === 0, 20_000)
  } finally {
    p.kill()
  }
})

test('a restart through the anchor keeps the anchor pid and forwards shutdown', { timeout: 60_000 }, async () => {
  const p = new SmoothProcess(writeRelease(join(root, 'anchor'), 'A'), {})
  try {
    await p.ready()
    await restartBySignal(p)
    await restartBySignal(p)
    p.signal('SIGTERM')
    assert.deepEqual(await p.waitExit(30_000), { code: 0, signal: null })
  } finally {
    p.kill()
  }
})

test('full restart (no inherited sockets): refused or reset, never hung, in the window; a taken port rolls back', { timeout: 90_000 }, async () => {
  const p = new SmoothProcess(writeRelease(join(root, 'full'), 'A', 'slow-start'), { SMOOTH_FULL_RESTART: 'true' })
  try {
    const port = await p.ready()
    const load = steadyLoad(`http://127.0.0.1:${port}/`, { concurrency: 2, maxMs: 60_000 })
    const primary = await restartBySignal(p)
    await until('requests served by the new generation', async () => (await get(`http://127.0.0.1:${port}/`)).body === 'A', 10_000)
    const r = await load.stop()
    // The documented window: refused, or reset for a connection caught in the kernel's accept queue as
    // the socket closed. Never a timeout, never an HTTP error.
    assert.ok(r.errors.every((e) => /ECONNREFUSED|ECONNRESET/.test(e)), `only refused or reset: ${r.errors.join('; ')}`)
    assert.ok(!r.errors.some((e) => /timed out/.test(e)))
    assert.deepEqual(Object.keys(r.statuses), ['200'])
    assert.ok(r.ok > 0)

    // Another program takes the port while the old generation has let go of it.
    const from = p.logs.length
    p.signal('SIGUSR1')
    await p.waitForMsg('successor started', 15_000, from)
    const { createServer } = await import('node:net')
    const blocker = createServer().listen(port, '127.0.0.1')
    await new Promise((r) => blocker.once('listening', r))
    const failed = await p.waitFor('the restart to fail', (l) => /^server restarts failed/.test(l.msg), 30_000, from)
    assert.equal(failed.code, 'SMOOTH_LISTEN_FAILED')
    blocker.close()
    await p.waitForMsg('full restart rolled back: serving again', 30_000, from)
    assert.equal(livePrimary(p).pid, primary)
    assert.equal((await get(`http://127.0.0.1:${port}/`)).body, 'A')
  } finally {
    p.kill()
  }
})
