import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, readFileSync, renameSync, writeFileSync, mkdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect } from 'node:net'
import { SmoothProcess, killAll, dist, until, isAlive } from './helpers/proc.js'
import { get, startRequest } from './helpers/http.js'
import { steadyLoad } from './helpers/load.js'
import { writeRelease } from './helpers/release.js'
import { livePrimary, restartBySignal, restartUnderLoad, noneFailed } from './helpers/rollout.js'
import { groupPids } from './helpers/group.js'
import { parseExposition, total } from './helpers/exposition.js'

after(killAll)
const root = mkdtempSync(join(tmpdir(), 'smooth-kill-'))
after(() => rmSync(root, { recursive: true, force: true }))

test('kill -9 of the primary: in-flight requests finish, the anchor reports it and exits non-zero, nothing is left', { timeout: 60_000 }, async () => {
  const p = new SmoothProcess(dist('test/fixtures/app.js'), { GRACEFUL: '1' })
  try {
    const port = await p.ready()
    const slow = startRequest(`http://127.0.0.1:${port}/slow?ms=2000`)
    await until('the slow request to reach a worker', async () => JSON.parse((await get(`http://127.0.0.1:${port}/debug/admin/status`)).body).workers.some((w: { inflight?: number }) => (w.inflight ?? 0) > 0), 10_000)
    const tree = groupPids(p.pid)
    process.kill(livePrimary(p).pid, 'SIGKILL')
    assert.equal((await slow.done).status, 200, 'the request a worker held finished after its primary died')
    const exit = await p.waitExit(20_000)
    assert.notEqual(exit.code, 0, 'a supervisor must see the failure')
    assert.ok(p.logs.some((l) => l.msg === 'live primary exited abnormally' && l.signal === 'SIGKILL'))
    await until('every process of the tree to be gone', () => tree.every((pid) => !isAlive(pid)), 20_000)
    // The supervisor's restart (Restart=on-failure): the same port binds again, nothing holds it.
    const again = new SmoothProcess(dist('test/fixtures/app.js'), { GRACEFUL: '1', ADDRESS: `127.0.0.1:${port}` })
    try {
      assert.equal(await again.ready(), port)
      assert.equal((await get(`http://127.0.0.1:${port}/`)).status, 200)
    } finally {
      again.kill()
    }
  } finally {
    p.kill()
  }
})

test('kill -9 of the old primary mid-handover: the successor takes over, no request fails, the anchor stays', { timeout: 90_000 }, async () => {
  const p = new SmoothProcess(writeRelease(join(root, 'midway'), 'A'), {})
  try {
    const port = await p.ready()
    const { old, load, from, successor } = await restartUnderLoad(p, port, { timeoutMs: 15_000 })
    await p.waitFor('the first new worker', (l) => l.msg === 'worker ready' && l.pid === successor, 20_000, from)
    process.kill(old, 'SIGKILL')
    await p.waitFor('the anchor to hand the service to the successor', (l) => l.msg === 'live primary died during a restart: its successor takes over', 10_000, from)
    await p.waitFor('the successor to be ready', (l) => l.msg === 'server ready' && l.pid === successor, 30_000, from)
    const okAt = load.result.ok
    await until('requests served by the successor', () => load.result.ok > okAt + 50, 10_000)
    assert.ok(isAlive(p.pid), 'the anchor is still up')
    // And it is a normal generation: it restarts and shuts down like one.
    assert.notEqual(await restartBySignal(p), successor)
    await noneFailed(load)
    p.signal('SIGTERM')
    assert.equal((await p.waitExit(30_000)).code, 0)
  } finally {
    p.kill()
  }
})

test('kill -9 of the old primary before the successor even connects: the successor starts on its own', { timeout: 90_000 }, async () => {
  const p = new SmoothProcess(writeRelease(join(root, 'early'), 'A', 'slow-start'), {})
  try {
    const port = await p.ready()
    // The successor waits 3 s before it starts: requests queue in the listen backlog meanwhile.
    const { old, load, from, successor } = await restartUnderLoad(p, port, { timeoutMs: 20_000 })
    process.kill(old, 'SIGKILL')
    await p.waitFor('the successor to start without its predecessor', (l) => l.msg === 'the previous generation is gone: starting on our own', 20_000, from)
    await p.waitFor('the successor to be ready', (l) => l.msg === 'server ready' && l.pid === successor, 30_000, from)
    const okAt = load.result.ok
    await until('requests served by the successor', () => load.result.ok > okAt + 50, 10_000)
    await noneFailed(load)
  } finally {
    p.kill()
  }
})

test('a successor that holds the sockets and never answers: rolled back at the hello timeout, A serves on', { timeout: 90_000 }, async () => {
  const p = new SmoothProcess(writeRelease(join(root, 'hangs'), 'A', 'hangs'), {})
  try {
    const port = await p.ready()
    const { old, load, from, successor } = await restartUnderLoad(p, port)
    const failed = await p.waitFor('the rollback', (l) => /^server restarts failed/.test(l.msg), 40_000, from)
    assert.equal(failed.code, 'SMOOTH_SUCCESSOR_HELLO_TIMEOUT')
    await until('the hung successor to be gone', () => !isAlive(successor), 10_000)
    assert.equal(livePrimary(p).pid, old)
    assert.equal((await get(`http://127.0.0.1:${port}/`)).body, 'A')
    await noneFailed(load)
  } finally {
    p.kill()
  }
})

test('a successor primary that exits once its workers are ready, before the handover: rolled back, A serves on', { timeout: 90_000 }, async () => {
  const p = new SmoothProcess(writeRelease(join(root, 'exits'), 'A', 'primary-exits-after-ready'), {})
  try {
    const port = await p.ready()
    const { old, load, from } = await restartUnderLoad(p, port)
    const failed = await p.waitFor('the rollback', (l) => /^server restarts failed/.test(l.msg), 40_000, from)
    assert.equal(failed.code, 'SMOOTH_SUCCESSOR_EXITED')
    await until('the old generation to be back at full strength', async () =>
      JSON.parse((await get(`http://127.0.0.1:${port}/debug/admin/status`)).body).workers.filter((w: { state: string }) => w.state === 'ready').length === 2, 20_000)
    assert.equal(livePrimary(p).pid, old)
    await noneFailed(load)
  } finally {
    p.kill()
  }
})

test('a flood of wrong-token connections on the status channel during a restart: all refused and counted, the restart succeeds', { timeout: 90_000 }, async () => {
  const p = new SmoothProcess(writeRelease(join(root, 'flood'), 'A', 'slow-start'), {})
  try {
    const port = await p.ready()
    const { load, from, statusChannel } = await restartUnderLoad(p, port)
    const [host, chPort] = statusChannel.split(':')
    const FLOOD = 200
    await Promise.all(Array.from({ length: FLOOD }, (_, i) => new Promise<void>((resolve) => {
      const s = connect({ host, port: Number(chPort) })
      s.on('error', () => resolve())
      s.on('close', () => resolve())
      s.on('connect', () => s.write(JSON.stringify({ t: 'hello', token: i.toString(16).padStart(64, '0'), pid: 1, generation: 2 }) + '\n'))
      s.resume()
    })))
    await p.waitFor('the restart to finish', (l) => l.msg === 'server restarted', 60_000, from)
    const refused = p.logs.slice(from).filter((l) => l.msg === 'status channel: connection refused').length
    assert.equal(refused, FLOOD)
    const scrape = parseExposition((await get(`http://127.0.0.1:${port}/metrics`)).body)
    assert.equal(total(scrape, 'smooth_status_channel_refused_total'), FLOOD, 'the new generation carries the count')
    await noneFailed(load)
  } finally {
    p.kill()
  }
})

test('anchor off: a pid file that can no longer be written at a restart is logged; the restart still succeeds', { timeout: 60_000 }, async () => {
  const dir = join(root, 'piddir')
  mkdirSync(dir)
  const pidFile = join(dir, 'smooth.pid')
  const p = new SmoothProcess(writeRelease(join(root, 'pidapp'), 'A'), { SMOOTH_ANCHOR: '0', SMOOTH_PID_FILE: pidFile })
  try {
    const port = await p.ready()
    assert.equal(readFileSync(pidFile, 'utf8').trim(), String(p.pid))
    // The directory goes away and a file takes its name: every write under it fails (ENOTDIR),
    // as it would on a full or read-only disk, whoever we run as.
    renameSync(dir, `${dir}.gone`)
    writeFileSync(dir, 'not a directory')
    const load = steadyLoad(`http://127.0.0.1:${port}/`, { concurrency: 2, maxMs: 30_000 })
    const from = p.logs.length
    p.signal('SIGUSR1')
    // Not waitFor: the process started is the first primary, which exits after the handover, maybe
    // before its successor's lines come through the stdout they share.
    const logged = () => p.logs.slice(from).find((l) => /^cannot rewrite the pid file/.test(l.msg))
    await until('the pid-file error', () => logged() !== undefined, 30_000)
    assert.match(logged()!.msg, /ENOTDIR/)
    await until('the old primary to hand over', () => p.logs.slice(from).some((l) => l.msg === 'all servers shutdown' && l.pid === p.pid), 30_000)
    assert.equal((await get(`http://127.0.0.1:${port}/`)).status, 200)
    const result = await load.stop()
    assert.equal(result.failed, 0, `failed requests: ${result.errors.join('; ')}`)
  } finally {
    p.kill()
  }
})

test('a pid file that cannot be written at start: a clear error, exit 1, nothing bound', { timeout: 30_000 }, async () => {
  const file = join(root, 'a-file')
  writeFileSync(file, '')
  const p = new SmoothProcess(writeRelease(join(root, 'pidstart'), 'A'), { SMOOTH_PID_FILE: join(file, 'smooth.pid') })
  const exit = await p.waitExit(20_000)
  assert.equal(exit.code, 1)
  assert.match(p.stderr, /smooth: SMOOTH_CONFIG_INVALID: .*pidFile .*ENOTDIR/)
})
