import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SmoothProcess, killAll, dist, until } from './helpers/proc.js'
import { get } from './helpers/http.js'
import { reloadBySignal } from './helpers/rollout.js'
import { parseExposition, total } from './helpers/exposition.js'

after(killAll)
const root = mkdtempSync(join(tmpdir(), 'smooth-pressure-'))
after(() => rmSync(root, { recursive: true, force: true }))
// A stressed worker's utilisation is >= 0.85 per sample on an idle machine (fixtures/pressure.ts). A
// healthy worker answering one request after another on a busy 2-core machine reaches 0.6 in some
// samples (CI saw it shed once), but not 0.75: the steering tests take that. A worker starting in a
// rollout competes for the CPU with the other new one, and a loop waiting to be scheduled counts as
// idle: the full suite saw one stressed from its start read under 0.75 (1 run of 5), so that test
// keeps 0.6.
const limits = (maxEventLoopUtilization: number): string => JSON.stringify({ maxEventLoopUtilization, sampleInterval: 100, retryAfter: 7 })
const LIMITS = limits(0.75)

/** Which worker answered each of `n` requests on new connections: 200, or 503 when under-pressure shed it. */
async function answers(port: number, n: number): Promise<{ pid: number; status: number }[]> {
  const seen: { pid: number; status: number }[] = []
  for (let i = 0; i < n; i++) {
    const r = await get(`http://127.0.0.1:${port}/pid`)
    assert.ok(r.status === 200 || r.status === 503, `request ${i}: ${r.status} ${r.body}`)
    seen.push({ pid: Number(r.headers['x-worker-pid']), status: r.status })
  }
  return seen
}

test('a worker under pressure gets no new connections while another is healthy, and gets them again when it recovers', { timeout: 60_000 }, async () => {
  const p = new SmoothProcess(dist('test/fixtures/pressure.js'), { SMOOTH_UNDER_PRESSURE: LIMITS })
  try {
    const port = await p.ready()
    const from = p.logs.length
    const stressed = Number((await get(`http://127.0.0.1:${port}/stress?ms=6000`)).body)
    const paused = await p.waitFor('the stressed worker to be paused', (l) => l.msg === 'worker under pressure: no new connections while others are healthy' && l.workerPid === stressed, 10_000, from)
    const afterPause = p.logs.indexOf(paused) + 1
    const during = await answers(port, 60)
    // A healthy worker may shed a request in a busy sample; what matters is who got the connection.
    const toStressed = during.filter((a) => a.pid === stressed).length
    // Were the other worker also under pressure, the stressed one would rightly accept again
    // ("someone must accept"): then its connections are no fault.
    const resumedEarly = p.logs.slice(afterPause).some((l) => l.msg === 'worker accepting again' && l.workerPid === stressed)
    assert.ok(toStressed === 0 || resumedEarly, `the worker under pressure got ${toStressed} of 60 new connections while paused`)
    assert.ok(during.filter((a) => a.status === 200).length > 0, 'the healthy worker answered')
    await p.waitFor('the worker to accept again', (l) => l.msg === 'worker accepting again' && l.workerPid === stressed, 20_000, afterPause)
    await until('the recovered worker to get connections again', async () => (await answers(port, 20)).some((a) => a.pid === stressed && a.status === 200), 20_000)
  } finally {
    p.kill()
  }
})

test('with every worker under pressure: 503 with Retry-After, counted; /metrics still answers', { timeout: 60_000 }, async () => {
  const p = new SmoothProcess(dist('test/fixtures/pressure.js'), { SMOOTH_UNDER_PRESSURE: LIMITS, WORKERS: '1' })
  try {
    const port = await p.ready()
    await get(`http://127.0.0.1:${port}/stress?ms=5000`)
    let shed: Awaited<ReturnType<typeof get>> | undefined
    await until('a request to be shed', async () => {
      const r = await get(`http://127.0.0.1:${port}/`)
      if (r.status === 503) shed = r
      return r.status === 503
    }, 10_000, 20)
    assert.equal(shed!.headers['retry-after'], '7')
    assert.equal(JSON.parse(shed!.body).code, 'SMOOTH_UNDER_PRESSURE', 'shed by under-pressure')
    const m = await get(`http://127.0.0.1:${port}/metrics`)
    assert.equal(m.status, 200, 'metrics are exempt from shedding')
    assert.ok(total(parseExposition(m.body), 'smooth_requests_shed_total') >= 1)
  } finally {
    p.kill()
  }
})

test('a rollout does not give a new worker connections before it is healthy', { timeout: 60_000 }, async () => {
  const flag = join(root, 'stress-new-workers')
  const p = new SmoothProcess(dist('test/fixtures/pressure.js'), { SMOOTH_UNDER_PRESSURE: limits(0.6), STRESS_AT_START: flag })
  try {
    await p.ready()
    writeFileSync(flag, '')
    const from = p.logs.length
    const started = await reloadBySignal(p)
    assert.equal(started.length, 2)
    for (const pid of started) {
      // Lines from different processes may arrive in any order: compare the times they carry.
      const over = await p.waitFor(`worker ${pid}'s start-up stress to end`, (l) => l.msg === 'fixture: start-up stress over' && l.pid === pid, 10_000, from)
      const ready = p.logs.slice(from).find((l) => l.msg === 'worker ready' && l.workerPid === pid)!
      const readyAt = new Date(String(ready.time)).getTime()
      assert.ok(readyAt >= Number(over.time), `worker ${pid} was ready ${Number(over.time) - readyAt} ms before its start-up stress was over`)
    }
  } finally {
    p.kill()
  }
})
