/**
 * `npm run bench:handoff`: connection hand-off (issue 15), with it on (the default) and off, side by side.
 *
 *  1. Survival: HANDOFF_CONNS (2000) clients, each on its own keep-alive connection asking GET /pid
 *     once a second, across HANDOFF_ROLLOUTS (10) reloads and as many restarts (alternating). Counts
 *     the connections the server never closed (one local port the whole run), reconnects per rollout,
 *     failed requests, and the p99 latency of requests sent while a rollout ran.
 *  2. The race: RACE_CONNS (50) clients sending POSTs with ids at random instants (no pause at all a
 *     third of the time) across RACE_RELOADS (10) reloads; the servers write each id they see to a
 *     file. Counts resets, empty replies, ids seen twice or never.
 * Writes its tables into BENCHMARKS.md (the "Connection hand-off" section).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { SmoothProcess, dist, ROOT } from '../test/helpers/proc.js'
import { reloadBySignal, restartBySignal } from '../test/helpers/rollout.js'
import { KeepAliveConnection, keepAliveFleet, type Failure } from '../test/helpers/keepalive.js'
import { machine } from './machine.js'

const CONNS = Number(process.env.HANDOFF_CONNS ?? 2000)
const ROLLOUTS = Number(process.env.HANDOFF_ROLLOUTS ?? 10)
const RACE_CONNS = Number(process.env.RACE_CONNS ?? 50)
const RACE_RELOADS = Number(process.env.RACE_RELOADS ?? 10)
const ROLLOUT_TIMEOUT_MS = 180_000
/** Which parts run (survival, race) and with which settings (on, off): both of each by default. */
const PARTS = (process.env.HANDOFF_PARTS ?? 'survival,race').split(',')
const MODES = (process.env.HANDOFF_MODES ?? 'on,off').split(',').map((m) => m === 'on')

function p99(xs: number[]): number {
  if (xs.length === 0) return 0
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(s.length * 0.99))]!
}

interface Survival { mode: string; conns: number; neverClosed: number; reconnects: number[]; failed: Record<string, number>; answered: number; p99Rollout: number; p99Steady: number }

async function survival(handOff: boolean): Promise<Survival> {
  const p = new SmoothProcess(dist('test/fixtures/handoff.js'), { WORKERS: '2', HAND_OFF: handOff ? '1' : '0', SMOOTH_GRACEFUL_TIMEOUT: '60s' })
  try {
    const port = await p.ready()
    const fleet = keepAliveFleet(port, CONNS, 1000)
    // Every client connected and answered once before the first rollout.
    for (const deadline = Date.now() + 60_000; fleet.records.some((r) => r.pids.length === 0) && Date.now() < deadline;) await new Promise((r) => setTimeout(r, 200))
    const reconnects: number[] = []
    const during: number[] = []
    const steady: number[] = []
    const mark = () => fleet.records.map((r) => r.latencies.length)
    const collect = (from: number[], into: number[]) => fleet.records.forEach((r, i) => into.push(...r.latencies.slice(from[i])))
    let before = mark()
    await new Promise((r) => setTimeout(r, 2_000))
    collect(before, steady)
    for (let i = 0; i < ROLLOUTS * 2; i++) {
      const r0 = fleet.reconnects()
      before = mark()
      if (i % 2 === 0) await reloadBySignal(p, ROLLOUT_TIMEOUT_MS)
      else await restartBySignal(p, ROLLOUT_TIMEOUT_MS)
      collect(before, during)
      reconnects.push(fleet.reconnects() - r0)
      console.log(`hand-off ${handOff ? 'on' : 'off'}: ${i % 2 === 0 ? 'reload' : 'restart'} ${i + 1}: ${reconnects[i]} reconnects, ${fleet.failures().length} failures so far`)
    }
    // One more round of requests on every connection after the last rollout.
    await new Promise((r) => setTimeout(r, 2_000))
    const records = await fleet.stop()
    const failed: Record<string, number> = {}
    for (const f of records.flatMap((r) => r.failures)) failed[f] = (failed[f] ?? 0) + 1
    return {
      mode: handOff ? 'on' : 'off', conns: CONNS, neverClosed: records.filter((r) => r.ports.length === 1).length, reconnects, failed,
      answered: records.reduce((a, r) => a + r.pids.length, 0), p99Rollout: p99(during), p99Steady: p99(steady),
    }
  } finally {
    p.kill()
  }
}

interface Race { mode: string; attempts: number; answered: number; failures: Record<Failure, number>; seenTwice: number; lost: number; reconnects: number }

async function race(handOff: boolean): Promise<Race> {
  const dir = mkdtempSync(join(tmpdir(), 'smooth-race-'))
  const ids = join(dir, 'ids')
  const p = new SmoothProcess(dist('test/fixtures/handoff.js'), { WORKERS: '2', HAND_OFF: handOff ? '1' : '0', IDS_FILE: ids })
  try {
    const port = await p.ready()
    let next = 0
    let stop = false
    let reconnects = 0
    const answered = new Set<string>()
    const failures: Record<Failure, number> = { reset: 0, empty: 0, timeout: 0, error: 0 }
    const attempted: string[] = []
    const client = async (): Promise<void> => {
      let c = await KeepAliveConnection.open(port)
      while (!stop) {
        if (c.ended) {
          reconnects++
          c = await KeepAliveConnection.open(port)
        }
        const id = String(++next)
        attempted.push(id)
        try {
          const r = await c.request('POST', '/id', JSON.stringify({ id }))
          if (r.body.trim().split(' ')[1] === id) answered.add(id)
          if (!r.keepAlive) c.close()
        } catch (err) {
          failures[(err as { failure: Failure }).failure]++
          c.close()
        }
        await new Promise((r) => setTimeout(r, Math.random() < 1 / 3 ? 0 : Math.random() * 20))
      }
      c.close()
    }
    const clients = Array.from({ length: RACE_CONNS }, client)
    for (let i = 0; i < RACE_RELOADS; i++) {
      await reloadBySignal(p, ROLLOUT_TIMEOUT_MS)
      console.log(`race, hand-off ${handOff ? 'on' : 'off'}: reload ${i + 1}: ${attempted.length} attempts, ${JSON.stringify(failures)}`)
    }
    stop = true
    await Promise.all(clients)
    // Let the last requests' ids reach the file.
    await new Promise((r) => setTimeout(r, 500))
    const counts = new Map<string, number>()
    for (const id of readFileSync(ids, 'utf8').split('\n').filter(Boolean)) counts.set(id, (counts.get(id) ?? 0) + 1)
    return {
      mode: handOff ? 'on' : 'off', attempts: attempted.length, answered: answered.size, failures,
      seenTwice: [...counts.values()].filter((n) => n > 1).length,
      // Answered to the client but never seen by a server, or seen without an answer and without a failure.
      lost: [...answered].filter((id) => !counts.has(id)).length,
      reconnects,
    }
  } finally {
    p.kill()
    rmSync(dir, { recursive: true, force: true })
  }
}

const started = Date.now()
const survivals: Survival[] = []
const races: Race[] = []
if (PARTS.includes('survival')) for (const on of MODES) survivals.push(await survival(on))
if (PARTS.includes('race')) for (const on of MODES) races.push(await race(on))
const minutes = ((Date.now() - started) / 60_000).toFixed(0)
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0)
const tag = `handoff-${PARTS.join('-')}`
const head = `## Connection hand-off (${PARTS.join(', ')}): idle keep-alive connections across rollouts, hand-off ${MODES.map((m) => (m ? 'on (default)' : 'off')).join(' vs ')}

Command: \`HANDOFF_PARTS=${PARTS.join(',')} npm run bench:handoff\` (HANDOFF_CONNS=${CONNS}, HANDOFF_ROLLOUTS=${ROLLOUTS}, RACE_CONNS=${RACE_CONNS}, RACE_RELOADS=${RACE_RELOADS};
${new Date().toISOString().slice(0, 10)}; ${machine()}; ${minutes} min). 2 workers; the machine was shared with other jobs
(these are correctness counts; the latencies are only comparable within this run).
`
const survivalMd = survivals.length === 0 ? '' : `
**Survival**: ${CONNS} clients, each on one keep-alive connection sending GET /pid about once a second
(jittered), across ${ROLLOUTS} reloads and ${ROLLOUTS} restarts (alternating). "Never closed": the client used one local port the
whole run (every answer after a rollout came from a new worker pid on the same connection). A client
whose connection the server closes, or whose request fails, reconnects (counted).

| hand-off | never closed by the server | failed requests | reconnects per rollout (median / total) | answered | p99 ms, steady | p99 ms, during rollouts |
|---|---|---|---|---|---|---|
${survivals.map((s) => `| ${s.mode} | ${s.neverClosed} of ${s.conns} (${(100 * s.neverClosed / s.conns).toFixed(2)} %) | ${sum(Object.values(s.failed))}${Object.keys(s.failed).length ? ` (${JSON.stringify(s.failed)})` : ''} | ${median(s.reconnects)} / ${sum(s.reconnects)} | ${s.answered} | ${s.p99Steady.toFixed(1)} | ${s.p99Rollout.toFixed(1)} |`).join('\n')}

Reconnects per rollout, in order (reload, restart, …): ${survivals.map((s) => `${s.mode}: ${s.reconnects.join(', ')}`).join('; ')}.
`
const raceMd = races.length === 0 ? '' : `
**The race**: ${RACE_CONNS} clients sending POST /id (a JSON body with a unique id) back to back a third of the time, else after a random
pause of up to 20 ms, across ${RACE_RELOADS} reloads; the servers append each id they handle to a file.

| hand-off | attempts | answered | resets | empty replies | timeouts (10 s) | other errors | ids handled twice | ids answered but never handled | reconnects |
|---|---|---|---|---|---|---|---|---|---|
${races.map((r) => `| ${r.mode} | ${r.attempts} | ${r.answered} | ${r.failures.reset} | ${r.failures.empty} | ${r.failures.timeout} | ${r.failures.error} | ${r.seenTwice} | ${r.lost} | ${r.reconnects} |`).join('\n')}
`
const md = `<!-- ${tag} -->\n${head}${survivalMd}${raceMd}<!-- /${tag} -->\n`
console.log(md)
const file = resolve(ROOT, 'BENCHMARKS.md')
const text = readFileSync(file, 'utf8')
const kept = text.replace(new RegExp(`<!-- ${tag} -->[\\s\\S]*<!-- /${tag} -->\\n?`), '')
writeFileSync(file, kept.trimEnd() + '\n\n' + md)
