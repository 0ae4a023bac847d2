import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SmoothProcess, dist, isAlive, killAll, until } from './helpers/proc.js'
import { get } from './helpers/http.js'
import { steadyLoad } from './helpers/load.js'

after(killAll)
const dir = mkdtempSync(join(tmpdir(), 'smooth-canary-'))
after(() => rmSync(dir, { recursive: true, force: true }))
const run = promisify(execFile)

/** Short windows keep the file lean; the judgement is the same at 30 s. */
const WINDOW_MS = 3000
const CANARY = JSON.stringify({ window: `${WINDOW_MS}ms`, minRequests: 30 })

interface Figures { requests: number; errors: number; errorRatio: number; p99Ms: number | null; meanMs: number | null }
interface Canary { phase: string; workers: number[]; canary: Figures; old: Figures; decision?: { result: string; reason?: string; why: string } }
interface Rollout { id: number; kind: string; result?: string; error?: { code: string; message: string }; canary?: Canary }
interface Status { generation: number; pid: number; workers: Array<{ pid: number; state: string }>; rollout: Rollout | null; rollouts: Rollout[] }

function behave(file: string, b: { errorEvery?: number; delayMs?: number; version: string }): void {
  writeFileSync(file, JSON.stringify(b))
}

async function start(name: string, b: Parameters<typeof behave>[1]) {
  const file = join(dir, `${name}.json`)
  behave(file, b)
  const p = new SmoothProcess(dist('test/fixtures/canary-app.js'), { BEHAVIOUR_FILE: file, WORKERS: '2', SMOOTH_CANARY: CANARY })
  const port = await p.ready()
  const url = `http://127.0.0.1:${port}`
  const status = async (): Promise<Status> => JSON.parse((await get(`${url}/debug/admin/status`)).body) as Status
  const cli = async (...args: string[]): Promise<{ code: number; out: string }> => {
    try {
      const r = await run(process.execPath, [dist('src/cli/smooth.js'), ...args, '--url', `${url}/debug/admin`], { timeout: 60_000 })
      return { code: 0, out: r.stdout }
    } catch (err) {
      const e = err as { code: number; stdout: string; stderr: string }
      return { code: e.code, out: e.stdout + e.stderr }
    }
  }
  const metric = async (re: RegExp): Promise<number> => {
    const text = (await get(`${url}/metrics`)).body
    const line = text.split('\n').find((l) => re.test(l))
    return line ? Number(line.split(' ').pop()) : 0
  }
  return { p, file, url, status, cli, metric }
}

test('reload canary: a release answering 500 on 5 % of requests is rolled back within window + 2 s; the old workers serve on', { timeout: 90_000 }, async () => {
  const s = await start('errors', { version: 'v1' })
  const oldPids = (await s.status()).workers.map((w) => w.pid).sort()
  const load = steadyLoad(`${s.url}/`, { concurrency: 4, maxMs: 60_000 })
  try {
    await until('some traffic before the reload', () => load.result.ok > 50, 10_000)
    behave(s.file, { version: 'v2', errorEvery: 20 })
    const from = s.p.logs.length
    const before = { statuses: { ...load.result.statuses } }
    const cli = await s.cli('reload', '--canary')
    const after = { ok: load.result.ok, statuses: { ...load.result.statuses } }
    const started = s.p.logs.slice(from).find((l) => l.msg === 'canary started')!
    const decided = s.p.logs.slice(from).find((l) => /^canary rolled back/.test(l.msg))
    assert.ok(decided, `no rollback in the log:\n${s.p.tail()}`)
    const tookMs = Date.parse(decided.time as string) - Date.parse(started.time as string)
    // What the canary's share of the window predicts: its share of the workers (1 of 3), of the
    // requests answered in the window (canary's and old workers', from the decision's figures), at
    // the release's 5 % error rate. Counted by the load client: the 500s it got.
    const rec = (await s.status()).rollouts[0]!
    const windowRequests = rec.canary!.canary.requests + rec.canary!.old.requests
    const predicted = windowRequests * (1 / 3) * 0.05
    const affected = (after.statuses[500] ?? 0) - (before.statuses[500] ?? 0)
    console.log(`canary errors: decided ${tookMs} ms after the canary started (window ${WINDOW_MS} ms); requests affected ${affected}, predicted by the canary's share ${predicted.toFixed(1)} (${windowRequests} requests in the window × 1/3 × 5 %); ${decided.msg}`)
    assert.ok(tookMs <= WINDOW_MS + 2000, `decided after ${tookMs} ms`)
    assert.equal(decided.reason, 'canary_errors')
    assert.ok(affected <= predicted, `affected ${affected} > predicted ${predicted}`)
    // The CLI says it, with the figures; exit code 1 (failed).
    assert.equal(cli.code, 1, cli.out)
    assert.match(cli.out, /SMOOTH_CANARY_ERRORS/)
    assert.match(cli.out, /canary rolled_back \(canary_errors\).*5xx \d+ \([\d.]+ %\).*old workers/)
    // The rollout record and the metric.
    assert.equal(rec.error?.code, 'SMOOTH_CANARY_ERRORS')
    assert.equal(rec.canary?.decision?.reason, 'canary_errors')
    assert.ok(rec.canary!.canary.errors > 0 && rec.canary!.old.errors === 0)
    assert.equal(await s.metric(/^smooth_rollouts_total\{.*result="rolled_back".*reason="canary_errors"/), 1)
    assert.equal(await s.metric(/^smooth_canaries_total\{kind="reload",result="rolled_back"\}/), 1)
    // The old workers serve on, untouched; the canary is gone.
    await until('the canary to be gone', async () => (await s.status()).workers.length === 2, 10_000)
    assert.deepEqual((await s.status()).workers.map((w) => w.pid).sort(), oldPids)
    const mark = { ...load.result.statuses }
    await until('200 more answers from the old workers', () => load.result.ok > after.ok + 200, 20_000)
    assert.equal((load.result.statuses[500] ?? 0) - (mark[500] ?? 0), 0, 'a 500 after the rollback')
  } finally {
    const r = await load.stop()
    assert.equal(r.errors.length, 0, `connection errors: ${r.errors.join('; ')}`)
  }
})

/** Starts a reload with the admin API's canary=1 and waits for its record. */
async function reloadByApi(s: Awaited<ReturnType<typeof start>>): Promise<Rollout> {
  const res = await get(`${s.url}/debug/admin/reload?canary=1`, { method: 'POST' })
  assert.equal(res.status, 202, res.body)
  const id = (JSON.parse(res.body) as { rollout: Rollout }).rollout.id
  let rec: Rollout | undefined
  await until(`reload #${id} to finish`, async () => Boolean(rec = (await s.status()).rollouts.find((r) => r.id === id)), 30_000, 200)
  return rec!
}

test('reload canary: a release 3× slower on every request is rolled back for latency', { timeout: 90_000 }, async () => {
  const s = await start('latency', { version: 'v1', delayMs: 20 })
  const load = steadyLoad(`${s.url}/`, { concurrency: 4, maxMs: 60_000 })
  try {
    await until('some traffic before the reload', () => load.result.ok > 50, 10_000)
    behave(s.file, { version: 'v2', delayMs: 60 })
    const rec = await reloadByApi(s)
    console.log(`canary latency: ${rec.error?.message ?? JSON.stringify(rec.canary)}`)
    assert.equal(rec.result, 'failure')
    assert.equal(rec.error?.code, 'SMOOTH_CANARY_LATENCY')
    assert.equal(rec.canary?.decision?.reason, 'canary_latency')
    assert.ok(rec.canary!.canary.meanMs! > 2 * rec.canary!.old.meanMs!, JSON.stringify(rec.canary))
    assert.equal(await s.metric(/^smooth_rollouts_total\{.*result="rolled_back".*reason="canary_latency"/), 1)
    assert.ok(s.p.logs.some((l) => /^canary rolled back/.test(l.msg) && l.reason === 'canary_latency'))
  } finally {
    const r = await load.stop()
    assert.equal(r.failed, 0, `failed requests: ${r.failed} ${r.errors.join('; ')}`)
  }
})

test('reload canary: a good release is promoted, no request fails, and the reload finishes', { timeout: 90_000 }, async () => {
  const s = await start('good', { version: 'v1' })
  const oldPids = (await s.status()).workers.map((w) => w.pid)
  const load = steadyLoad(`${s.url}/`, { concurrency: 4, maxMs: 60_000 })
  try {
    await until('some traffic before the reload', () => load.result.ok > 50, 10_000)
    behave(s.file, { version: 'v2' })
    const cli = await s.cli('reload', '--canary')
    console.log(`canary promoted: ${cli.out.trim().split('\n').filter((l) => /canary/.test(l)).slice(-1)[0]}`)
    assert.equal(cli.code, 0, cli.out)
    assert.match(cli.out, /canary promoted after [\d.]+ of 3 s: canary \[\d+\] \d+ requests, 5xx 0 \(0\.00 %\), p99 [\d.]+ ms, mean [\d.]+ ms \| old workers \d+ requests/)
    const st = await s.status()
    assert.equal(st.rollouts[0]!.result, 'success')
    assert.equal(st.rollouts[0]!.canary?.decision?.result, 'promoted')
    // Every worker is new, and the canary is one of them.
    assert.equal(st.workers.filter((w) => w.state === 'ready').length, 2)
    assert.ok(st.workers.every((w) => !oldPids.includes(w.pid)))
    assert.ok(st.workers.some((w) => st.rollouts[0]!.canary!.workers.includes(w.pid)))
    assert.match((await get(`${s.url}/`)).body, /^v2 /)
    assert.equal(await s.metric(/^smooth_canaries_total\{kind="reload",result="promoted"\}/), 1)
    assert.equal(await s.metric(/^smooth_rollouts_total\{kind="reload",result="success"\}/), 1)
  } finally {
    const r = await load.stop()
    console.log(`good release: ${r.ok} ok, ${r.failed} failed`)
    assert.equal(r.failed, 0, `failed requests: ${r.failed} ${r.errors.join('; ')}`)
  }
})

test('restart canary: the canary is a worker of the new primary; a bad release is rolled back (the old generation serves on), a good one promoted', { timeout: 120_000 }, async () => {
  const s = await start('restart', { version: 'v1' })
  const first = await s.status()
  const load = steadyLoad(`${s.url}/`, { concurrency: 4, maxMs: 90_000 })
  try {
    await until('some traffic before the restart', () => load.result.ok > 50, 10_000)
    behave(s.file, { version: 'v2', errorEvery: 20 })
    const from = s.p.logs.length
    const bad = await s.cli('restart', '--canary')
    console.log(`restart canary, bad release: ${bad.out.trim().split('\n').slice(-2).join(' / ')}`)
    assert.equal(bad.code, 1, bad.out)
    assert.match(bad.out, /SMOOTH_CANARY_ERRORS/)
    // The canary ran in the new primary, and was judged there.
    const decided = s.p.logs.slice(from).find((l) => /^canary rolled back/.test(l.msg))!
    assert.ok(decided && decided.pid !== first.pid, `decided in ${decided?.pid}, old primary ${first.pid}`)
    const afterBad = await s.status()
    assert.equal(afterBad.pid, first.pid)
    assert.equal(afterBad.generation, first.generation)
    assert.equal(afterBad.rollouts[0]!.error?.code, 'SMOOTH_CANARY_ERRORS')
    assert.equal(afterBad.rollouts[0]!.canary?.decision?.reason, 'canary_errors')
    assert.equal(await s.metric(/^smooth_rollouts_total\{kind="restart",result="rolled_back",reason="canary_errors"\}/), 1)
    await until('the old generation alone again', async () => (await s.status()).workers.length === 2, 10_000)
    const statusBefore = { ...load.result.statuses }
    behave(s.file, { version: 'v3' })
    const good = await s.cli('restart', '--canary')
    console.log(`restart canary, good release: ${good.out.trim().split('\n').slice(-2).join(' / ')}`)
    assert.equal(good.code, 0, good.out)
    const st = await s.status()
    assert.equal(st.generation, first.generation + 1)
    const rec = st.rollouts[0]!
    assert.equal(rec.result, 'success')
    assert.equal(rec.canary?.decision?.result, 'promoted')
    assert.ok(st.workers.some((w) => rec.canary!.workers.includes(w.pid)), 'the canary is one of the new generation\'s workers')
    assert.match((await get(`${s.url}/`)).body, /^v3 /)
    assert.equal(await s.metric(/^smooth_canaries_total\{kind="restart",result="promoted"\}/), 1)
    assert.equal((load.result.statuses[500] ?? 0) - (statusBefore[500] ?? 0), 0)
  } finally {
    const r = await load.stop()
    assert.equal(r.errors.length, 0, `connection errors: ${r.errors.join('; ')}`)
  }
})

/** Starts a canary reload with a long window (the admin API's JSON form) and waits until it is watched. */
async function watching(s: Awaited<ReturnType<typeof start>>): Promise<Canary> {
  const res = await get(`${s.url}/debug/admin/reload?canary=${encodeURIComponent('{"window":"20s"}')}`, { method: 'POST' })
  assert.equal(res.status, 202, res.body)
  let c: Canary | undefined
  await until('the canary to be watched', async () => (c = (await s.status()).rollout?.canary)?.phase === 'watching', 20_000, 100)
  return c!
}

test('canary: a canary that crashes is a rollback; a second rollout is refused while one runs', { timeout: 60_000 }, async () => {
  const s = await start('crash', { version: 'v1' })
  const oldPids = (await s.status()).workers.map((w) => w.pid).sort()
  const c = await watching(s)
  const second = await get(`${s.url}/debug/admin/reload`, { method: 'POST' })
  assert.equal(second.status, 409)
  assert.equal((JSON.parse(second.body) as { code: string }).code, 'SMOOTH_ROLLOUT_IN_PROGRESS')
  process.kill(c.workers[0]!, 'SIGKILL')
  await until('the reload to fail', async () => (await s.status()).rollout === null, 10_000, 100)
  const rec = (await s.status()).rollouts[0]!
  assert.equal(rec.error?.code, 'SMOOTH_CANARY_CRASHED')
  assert.equal(rec.canary?.decision?.reason, 'canary_crashed')
  assert.equal(await s.metric(/^smooth_rollouts_total\{.*reason="canary_crashed"/), 1)
  await until('the old workers alone', async () => (await s.status()).workers.length === 2, 10_000)
  assert.deepEqual((await s.status()).workers.map((w) => w.pid).sort(), oldPids)
})

test('canary: a shutdown during the window is clean (every worker drains, the process exits 0)', { timeout: 60_000 }, async () => {
  const s = await start('shutdown', { version: 'v1' })
  const pids = (await s.status()).workers.map((w) => w.pid)
  const c = await watching(s)
  const load = steadyLoad(`${s.url}/`, { concurrency: 2, maxMs: 10_000 })
  await until('some traffic on the canary too', () => load.result.ok > 20, 10_000)
  s.p.signal('SIGTERM')
  const exit = await s.p.waitExit(30_000)
  await load.stop()
  assert.equal(exit.code, 0, s.p.tail())
  for (const pid of [...pids, ...c.workers]) assert.ok(!isAlive(pid), `worker ${pid} outlived the shutdown`)
  assert.ok(s.p.logs.some((l) => l.msg === 'all servers shutdown'))
})
