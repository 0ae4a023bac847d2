/**
 * A successor's start-up (src/primary/upgrade/new-side.ts) on a fake OS and a fake status channel:
 * joining -> replacing -> awaitingHandover -> idle, one worker per retired one, and what happens when
 * the predecessor goes away or a worker dies. Real-process proof: rollouts.test.ts, surge.test.ts.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { EventEmitter } from 'node:events'
import { startAfterPredecessor, type PredecessorChannel } from '../src/primary/upgrade/new-side.js'
import type { SuccessorFrame } from '../src/protocol.js'
import { fakePrimary, type FakePrimary } from './helpers/fake-primary.js'

class FakeChannel extends EventEmitter implements PredecessorChannel {
  closed = false
  readonly sent: SuccessorFrame[] = []
  send(frame: SuccessorFrame): void {
    if (!this.closed) this.sent.push(frame)
  }

  close(): void {
    this.goAway()
  }

  goAway(): void {
    if (this.closed) return
    this.closed = true
    this.emit('close')
  }

  acts(): string[] {
    return this.sent.map((f) => f.t).filter((t) => !t.startsWith('metrics'))
  }
}

function begin(opts: { workers?: number; surge?: number; stopping?: () => boolean } = {}): { p: FakePrimary; channel: FakeChannel; done: Promise<string> } {
  const p = fakePrimary(opts)
  p.state = 'starting'
  const channel = new FakeChannel()
  const done = startAfterPredecessor(p, channel).then(() => 'done', (err: Error) => `failed: ${err.message}`)
  return { p, channel, done }
}

const history = [{ id: 1, kind: 'reload' as const, startedAt: 0, progress: { done: 1, total: 1, step: 'done' }, result: 'success' as const }]

test('welcome -> replacing: counters and history taken over, the restart counted once; one worker per retired one; ready -> awaitingHandover; handover -> idle', async () => {
  const { p, channel, done } = begin({ workers: 2, surge: 1 })
  assert.equal(p.upgrade.state, 'joining')
  const restart = { id: 2, kind: 'restart' as const, startedAt: 0, progress: { done: 0, total: 2, step: 'starting' } }
  channel.emit('frame', { t: 'welcome', counters: { restarts: 4, reloads: 1, workerCrashes: 0, rolloutFailures: 0 }, history, restart })
  await p.os.advance(0)
  assert.equal(p.upgrade.state, 'replacing')
  assert.equal(p.counters.restarts, 5)
  assert.equal(p.rollouts.current?.id, 2)
  await p.os.advance(p.timings.workerSettleMs)
  assert.deepEqual(channel.acts(), ['workerReady'])
  assert.equal(p.os.workers.length, 1, 'the next worker waits for an old one to retire')
  channel.emit('frame', { t: 'retired', workerPid: 77 })
  await p.os.advance(p.timings.workerSettleMs)
  assert.deepEqual(channel.acts(), ['workerReady', 'workerReady'])
  channel.emit('frame', { t: 'retired', workerPid: 78 })
  await p.os.advance(0)
  assert.deepEqual(channel.acts(), ['workerReady', 'workerReady', 'ready'])
  assert.equal(p.upgrade.state, 'awaitingHandover')
  channel.emit('frame', { t: 'handover', metrics: [] })
  assert.equal(await done, 'done')
  assert.ok(p.upgrade.idle)
  assert.equal(p.rollouts.current, undefined)
  assert.equal(p.rollouts.history[0]?.id, 2)
  assert.equal(p.rollouts.history[0]?.result, 'success')
  assert.ok(channel.closed)
})

test('surge 2: two workers start side by side', async () => {
  const { p, channel } = begin({ workers: 3, surge: 2 })
  channel.emit('frame', { t: 'welcome', counters: { restarts: 0, reloads: 0, workerCrashes: 0, rolloutFailures: 0 }, history: [] })
  await p.os.advance(0)
  assert.equal(p.os.workers.length, 2)
  await p.os.advance(p.timings.workerSettleMs)
  assert.deepEqual(channel.acts(), ['workerReady', 'workerReady'])
  channel.goAway()
})

test('the predecessor goes away: every wait ends at once and the successor starts its workers alone', async () => {
  const { p, channel, done } = begin({ workers: 3, surge: 1 })
  channel.goAway()
  for (let i = 0; i < 5; i++) await p.os.advance(p.timings.workerSettleMs)
  assert.equal(await done, 'done')
  assert.equal(p.os.workers.length, 3)
  assert.ok(p.upgrade.idle)
  assert.equal(p.counters.restarts, 1)
})

test('no welcome within handoverMs: it goes on with its own counters', async () => {
  const { p, channel } = begin({ workers: 1 })
  await p.os.advance(p.timings.handoverMs - 1)
  assert.equal(p.upgrade.state, 'joining')
  await p.os.advance(1)
  assert.equal(p.upgrade.state, 'replacing')
  channel.goAway()
})

test('a worker of ours that dies during start-up is reported to the predecessor (it rolls back)', async () => {
  const { p, channel } = begin({ workers: 2 })
  channel.emit('frame', { t: 'welcome', counters: { restarts: 0, reloads: 0, workerCrashes: 0, rolloutFailures: 0 }, history: [] })
  await p.os.advance(p.timings.workerSettleMs)
  p.os.workers[0]!.exit(1)
  await p.os.advance(0)
  assert.deepEqual(channel.sent.at(-1), { t: 'workerDied', workerPid: p.os.workers[0]!.pid, code: 1 })
  channel.goAway()
})

test('told to stop while starting: no more workers, and it stands alone (idle)', async () => {
  let stopping = false
  const { p, channel, done } = begin({ workers: 3, stopping: () => stopping })
  channel.emit('frame', { t: 'welcome', counters: { restarts: 0, reloads: 0, workerCrashes: 0, rolloutFailures: 0 }, history: [] })
  await p.os.advance(p.timings.workerSettleMs)
  stopping = true
  channel.emit('frame', { t: 'retired', workerPid: 1 })
  await p.os.advance(p.timings.workerSettleMs)
  assert.equal(await done, 'done')
  assert.equal(p.os.workers.length, 1)
  assert.ok(p.upgrade.idle)
  assert.ok(!channel.sent.some((f) => f.t === 'ready'))
})

test('a worker that never gets ready is killed at readyTimeout and fails the start-up', async () => {
  const { p, channel, done } = begin({ workers: 1 })
  p.os.onFork = () => {}
  channel.emit('frame', { t: 'welcome', counters: { restarts: 0, reloads: 0, workerCrashes: 0, rolloutFailures: 0 }, history: [] })
  await p.os.advance(p.config.process.readyTimeoutMs)
  // The pool's own ready deadline and the start-up's are the same: whichever fires first says why.
  assert.match(await done, /^failed: new worker \d+ (was not ready|exited before it was ready)/)
  assert.deepEqual(p.os.workers[0]!.signals, ['SIGKILL'])
  assert.ok(p.upgrade.idle)
})

/** A one-worker restart through to the handover, whose predecessor's welcome names `pid` (still running). */
async function handedOverFrom(pid: number): Promise<FakePrimary> {
  const { p, channel, done } = begin({ workers: 1, surge: 1 })
  p.os.alive.add(pid)
  channel.emit('frame', { t: 'welcome', counters: { restarts: 0, reloads: 0, workerCrashes: 0, rolloutFailures: 0 }, history: [], pid })
  await p.os.advance(p.timings.workerSettleMs)
  channel.emit('frame', { t: 'retired', workerPid: 77 })
  await p.os.advance(0)
  channel.emit('frame', { t: 'handover', metrics: [] })
  assert.equal(await done, 'done')
  return p
}

test('after the handover, the predecessor (its welcome names its pid) is watched until it has exited, then forgotten', async () => {
  const p = await handedOverFrom(4242)
  assert.equal(p.upgrade.predecessorPid, 4242, 'still running after the handover: a restart of ours would wait')
  await p.os.advance(p.timings.predecessorPollMs * 3)
  assert.equal(p.upgrade.predecessorPid, 4242)
  p.os.alive.delete(4242)
  await p.os.advance(p.timings.predecessorPollMs)
  assert.equal(p.upgrade.predecessorPid, undefined, 'gone: forgotten')
})

test('a predecessor still running past its drains (stuck, or its pid reused) is forgotten at that bound', async () => {
  const p = await handedOverFrom(4243)
  await p.os.advance(p.config.process.gracefulTimeoutMs + p.timings.drainKillMarginMs - p.timings.predecessorPollMs)
  assert.equal(p.upgrade.predecessorPid, 4243)
  await p.os.advance(p.timings.predecessorPollMs * 2)
  assert.equal(p.upgrade.predecessorPid, undefined)
})
