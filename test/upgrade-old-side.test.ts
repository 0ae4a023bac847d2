/**
 * The old side of a restart end to end on a fake OS (src/primary/upgrade/old-side.ts): the successor
 * is a FakeProcess, the status channel a real one on 127.0.0.1 that the test speaks as the successor.
 * Spawn, handshake, handover or rollback, and the service restored after a rollback.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { handOver, restoreService } from '../src/primary/upgrade/old-side.js'
import { connectStatus, type StatusClient } from '../src/primary/status-channel.js'
import type { PredecessorFrame } from '../src/protocol.js'
import type { LaunchPlan } from '../src/primary/successor.js'
import type { SmoothError } from '../src/errors.js'
import { FD_BASE } from '../src/wire.js'
import { fakePrimary, serving, type FakePrimary } from './helpers/fake-primary.js'
import type { FakeProcess } from './helpers/fake-os.js'

const plan: LaunchPlan = { command: process.execPath, args: ['app.js'], target: 'app.js', node: true, launch: { entry: '/nonexistent/app.js', dir: '/nonexistent', original: true } }

/** Waits (really: the channel is a real socket) until `cond`, moving the fake clock by 0 between looks. */
async function until(what: string, p: FakePrimary, cond: () => boolean): Promise<void> {
  const end = Date.now() + 5_000
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await p.os.advance(0)
    await new Promise((r) => setTimeout(r, 5))
  }
}

interface Restart { p: FakePrimary; outcome: Promise<string>; successor: () => FakeProcess; connect(): Promise<{ client: StatusClient; frames: PredecessorFrame[] }> }

async function restart(opts: { fullRestart?: boolean; workers?: number } = {}): Promise<Restart> {
  const p = fakePrimary(opts)
  await serving(p)
  const rec = p.rollouts.begin('restart', p.pool.size)
  const outcome = handOver(p, plan, rec, {}).then(() => 'handed over', (err: SmoothError) => err.code)
  return {
    p, outcome,
    successor: () => p.os.spawned[0]!,
    async connect() {
      await until('the successor to be spawned', p, () => p.os.spawned.length > 0)
      const env = p.os.spawned[0]!.spec.env
      const client = await connectStatus(env.SMOOTH_STATUS_ADDR!, env.SMOOTH_STATUS_TOKEN!, { pid: p.os.spawned[0]!.pid!, generation: 2 })
      const frames: PredecessorFrame[] = []
      client.on('frame', (f: PredecessorFrame) => frames.push(f))
      return { client, frames }
    },
  }
}

test('spawn -> awaitingHello -> rolling -> settling -> handingOver -> handedOver, with the sockets inherited from FD_BASE on', async () => {
  const r = await restart({ workers: 2 })
  const { p } = r
  const seen: string[] = []
  p.upgrade.onTransition = (_name, _from, to) => seen.push(to)
  const { client, frames } = await r.connect()
  const child = r.successor()
  assert.deepEqual(child.spec.fds, p.listeners.map((l) => l.handle.fd))
  assert.deepEqual(JSON.parse(child.spec.env.SMOOTH_INHERIT_FDS!), { '127.0.0.1:1': FD_BASE })
  assert.equal(child.spec.env.SMOOTH_GENERATION, '2')
  await until('the welcome', p, () => frames.some((f) => f.t === 'welcome'))
  for (const workerPid of [501, 502]) {
    client.send({ t: 'workerReady', workerPid })
    await until('an old worker retired', p, () => frames.filter((f) => f.t === 'retired').length === workerPid - 500)
  }
  client.send({ t: 'ready' })
  await until('settling', p, () => p.upgrade.state === 'settling')
  await p.os.advance(p.timings.workerSettleMs)
  await until('the handover frame', p, () => frames.some((f) => f.t === 'handover'))
  assert.equal(await r.outcome, 'handed over')
  assert.deepEqual(seen, ['spawning', 'awaitingHello', 'rolling', 'settling', 'handingOver', 'handedOver'])
  assert.equal(p.upgrade.successor?.pid, child.pid)
  client.close()
})

test('rollback: a successor that exits is killed, the reason is its exit, and the retired workers are replaced', async () => {
  const r = await restart({ workers: 2 })
  const { p } = r
  const { client, frames } = await r.connect()
  await until('the welcome', p, () => frames.some((f) => f.t === 'welcome'))
  client.send({ t: 'workerReady', workerPid: 501 })
  await until('an old worker retired', p, () => frames.some((f) => f.t === 'retired'))
  assert.equal(p.pool.live().length, 1)
  r.successor().exit(1)
  client.close()
  for (let i = 0; i < 20 && p.upgrade.state !== 'rollingBack'; i++) await p.os.advance(100)
  assert.equal(await r.outcome, 'SMOOTH_SUCCESSOR_EXITED')
  assert.equal(p.upgrade.state, 'rollingBack')
  assert.equal(p.upgrade.successor, undefined)
  restoreService(p)
  assert.ok(p.upgrade.idle)
  await p.os.advance(0)
  assert.equal(p.pool.live().filter((s) => s.state === 'ready').length, 2, 'refilled')
})

test('rollback: the successor\'s recorded start-up error is the reason (its own code)', async () => {
  const r = await restart()
  const { p } = r
  const { client } = await r.connect()
  writeFileSync(r.successor().spec.env.SMOOTH_FAILURE_FILE!, 'SMOOTH_LISTEN_FAILED: cannot listen on 127.0.0.1:1\n')
  r.successor().exit(1)
  for (let i = 0; i < 20 && p.upgrade.state !== 'rollingBack'; i++) await p.os.advance(100)
  assert.equal(await r.outcome, 'SMOOTH_LISTEN_FAILED')
  client.close()
})

test('rollback: no process could be created -> SMOOTH_SUCCESSOR_SPAWN_FAILED, from spawning', async () => {
  const p = fakePrimary()
  await serving(p)
  p.os.spawnWithoutPid = true
  const seen: string[] = []
  p.upgrade.onTransition = (name) => seen.push(name)
  const outcome = await handOver(p, plan, p.rollouts.begin('restart', 2), {}).then(() => 'handed over', (err: SmoothError) => err.code)
  assert.equal(outcome, 'SMOOTH_SUCCESSOR_SPAWN_FAILED')
  assert.deepEqual(seen, ['spawn', 'rollBack'])
})

test('a shutdown before the spawn: refused with SMOOTH_SHUTTING_DOWN, nothing started, nothing to roll back', async () => {
  const p = fakePrimary({ stopping: () => true })
  await serving(p)
  const outcome = await handOver(p, plan, p.rollouts.begin('restart', 2), {}).then(() => 'handed over', (err: SmoothError) => err.code)
  assert.equal(outcome, 'SMOOTH_SHUTTING_DOWN')
  assert.equal(p.os.spawned.length, 0)
  assert.ok(p.upgrade.idle)
})

test('full restart: our sockets close and workers drain before the successor is spawned, which gets the ports to bind', async () => {
  const r = await restart({ fullRestart: true, workers: 2 })
  const { p } = r
  await until('the successor to be spawned', p, () => p.os.spawned.length > 0)
  assert.ok(p.upgrade.visited('releasingPorts'))
  assert.ok(p.listeners.every((l) => l.closed))
  assert.equal(p.pool.live().length, 0)
  const env = r.successor().spec.env
  assert.deepEqual(r.successor().spec.fds, [])
  assert.equal(env.SMOOTH_INHERIT_FDS, undefined)
  assert.deepEqual(JSON.parse(env.SMOOTH_BOUND_PORTS!), { '127.0.0.1:1': p.listeners[0]!.port })
  await p.os.advance(p.timings.successorHelloMs)
  assert.equal(await r.outcome, 'SMOOTH_SUCCESSOR_HELLO_TIMEOUT')
})

test('a restart asked for while our own predecessor still runs waits for it to be forgotten (never three generations); a shutdown ends the wait', async () => {
  const p = fakePrimary({ workers: 1 })
  await serving(p)
  p.upgrade.predecessorPid = 4242
  const rec = p.rollouts.begin('restart', p.pool.size)
  const outcome = handOver(p, plan, rec, {}).then(() => 'handed over', (err: SmoothError) => err.code)
  await p.os.advance(p.timings.predecessorPollMs * 5)
  assert.equal(p.os.spawned.length, 0, 'no successor while the previous generation runs')
  assert.match(rec.progress.step, /waiting for the previous generation/)
  p.upgrade.predecessorPid = undefined
  await p.os.advance(p.timings.predecessorPollMs)
  await until('the successor to be spawned', p, () => p.os.spawned.length > 0)
  p.os.spawned[0]!.exit(1)
  for (let i = 0; i < 20 && p.upgrade.state !== 'rollingBack'; i++) await p.os.advance(100)
  assert.equal(await outcome, 'SMOOTH_SUCCESSOR_EXITED')

  let stopping = false
  const q = fakePrimary({ workers: 1, stopping: () => stopping })
  await serving(q)
  q.upgrade.predecessorPid = 4243
  const rec2 = q.rollouts.begin('restart', q.pool.size)
  const outcome2 = handOver(q, plan, rec2, {}).then(() => 'handed over', (err: SmoothError) => err.code)
  await q.os.advance(q.timings.predecessorPollMs * 2)
  stopping = true
  await q.os.advance(q.timings.predecessorPollMs)
  assert.equal(await outcome2, 'SMOOTH_SHUTTING_DOWN')
  assert.equal(q.os.spawned.length, 0)
  assert.ok(q.upgrade.idle)
})
