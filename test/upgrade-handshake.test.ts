/**
 * The old side's handshake (src/primary/upgrade/handshake.ts) on a fake OS and a fake status channel:
 * each step, each deadline and each rollback reason, with the upgrade machine's states checked on
 * the way. Real-process proof of the same: kill.test.ts, faults.test.ts, rollouts.test.ts.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { EventEmitter } from 'node:events'
import { handshake, type SuccessorChannel } from '../src/primary/upgrade/handshake.js'
import type { PredecessorFrame } from '../src/protocol.js'
import type { RolloutRecord } from '../src/primary/rollout.js'
import type { RequesterHooks } from '../src/primary/context.js'
import type { SmoothError } from '../src/errors.js'
import { fakePrimary, serving, type FakePrimary } from './helpers/fake-primary.js'

class FakeChannel extends EventEmitter implements SuccessorChannel {
  readonly sent: PredecessorFrame[] = []
  send(frame: PredecessorFrame): void {
    this.sent.push(frame)
  }
}

interface Run {
  p: FakePrimary
  channel: FakeChannel
  rec: RolloutRecord
  exit: (r: { code: number | null; signal: string | null }) => void
  /** The handshake's outcome: 'settled', or the rejection's code. */
  outcome: () => string | undefined
  result: Promise<string>
}

async function start(hooksFor: (p: FakePrimary) => RequesterHooks = () => ({}), workers = 2): Promise<Run> {
  const p = fakePrimary({ workers })
  await serving(p)
  const hooks = hooksFor(p)
  const channel = new FakeChannel()
  let exit!: Run['exit']
  const child = { pid: 4242, exited: new Promise<{ code: number | null; signal: string | null }>((r) => (exit = r)), kill: () => {} }
  const rec = p.rollouts.begin('restart', workers)
  p.upgrade.spawn()
  p.upgrade.spawned(child)
  let outcome: string | undefined
  const result = handshake(p, channel, child, rec, hooks).then(() => 'settled', (err: SmoothError) => err.code)
  void result.then((o) => (outcome = o))
  return { p, channel, rec, exit, outcome: () => outcome, result }
}

test('the whole way: hello -> welcome (rolling); each workerReady retires one old worker; ready -> settling -> settled after workerSettleMs', async () => {
  const run = await start()
  const { p, channel } = run
  p.counters.reloads = 3
  channel.emit('hello')
  assert.equal(p.upgrade.state, 'rolling')
  const welcome = channel.sent[0]
  assert.ok(welcome?.t === 'welcome')
  assert.equal(welcome.counters.reloads, 3)
  assert.equal(welcome.restart, run.rec)
  const old = p.pool.live().map((s) => s.pid)
  for (const pid of [901, 902]) {
    channel.emit('frame', { t: 'workerReady', workerPid: pid })
    await p.os.advance(0)
  }
  assert.deepEqual(channel.sent.slice(1), old.map((workerPid) => ({ t: 'retired', workerPid })))
  assert.equal(run.rec.progress.done, 2)
  // No old worker left: the next one is told so at once.
  channel.emit('frame', { t: 'workerReady', workerPid: 903 })
  assert.deepEqual(channel.sent.at(-1), { t: 'retired', workerPid: null })
  // Ready: every worker of the successor accepts and ours have retired; it must stay up workerSettleMs.
  await p.os.advance(5_000)
  channel.emit('frame', { t: 'ready' })
  assert.equal(p.upgrade.state, 'settling')
  await p.os.advance(p.timings.workerSettleMs - 1)
  assert.equal(run.outcome(), undefined)
  await p.os.advance(1)
  assert.equal(await run.result, 'settled')
})

test('the wait=1 requester\'s worker is retired last, and answers just before its drain', async () => {
  let answeredWith: RolloutRecord | undefined
  const run = await start((p) => ({ requester: p.pool.live()[0], beforeRequesterDrains: (rec) => { answeredWith = rec } }))
  const [requester, other] = run.p.pool.live()
  run.channel.emit('hello')
  run.channel.emit('frame', { t: 'workerReady', workerPid: 901 })
  await run.p.os.advance(0)
  assert.deepEqual(run.channel.sent.at(-1), { t: 'retired', workerPid: other!.pid })
  assert.equal(answeredWith, undefined)
  run.channel.emit('frame', { t: 'workerReady', workerPid: 902 })
  assert.equal(answeredWith, run.rec)
  await run.p.os.advance(0)
  assert.deepEqual(run.channel.sent.at(-1), { t: 'retired', workerPid: requester!.pid })
})

test('rollback reasons, each with its code', async (t) => {
  const cases: Array<[string, (r: Run) => Promise<void> | void, string]> = [
    ['no hello in time', async (r) => r.p.os.advance(r.p.timings.successorHelloMs), 'SMOOTH_SUCCESSOR_HELLO_TIMEOUT'],
    ['its first worker not ready in time', async (r) => {
      r.channel.emit('hello')
      const cfg = r.p.config.process
      await r.p.os.advance(cfg.readyTimeoutMs + cfg.gracefulTimeoutMs + r.p.timings.successorStepMarginMs)
    }, 'SMOOTH_SUCCESSOR_NOT_READY'],
    ['the next worker not ready in time', async (r) => {
      r.channel.emit('hello')
      r.channel.emit('frame', { t: 'workerReady', workerPid: 1 })
      const cfg = r.p.config.process
      await r.p.os.advance(cfg.readyTimeoutMs + cfg.gracefulTimeoutMs + r.p.timings.successorStepMarginMs)
    }, 'SMOOTH_SUCCESSOR_NOT_READY'],
    ['it exits', async (r) => { r.exit({ code: 1, signal: null }); await r.p.os.advance(r.p.timings.lastFramesMs) }, 'SMOOTH_SUCCESSOR_EXITED'],
    ['it exits, its last frame (a worker died) arriving after the exit', async (r) => {
      r.channel.emit('hello')
      r.exit({ code: 1, signal: null })
      await r.p.os.advance(0)
      r.channel.emit('frame', { t: 'workerDied', workerPid: 7, code: 7 })
    }, 'SMOOTH_SUCCESSOR_WORKER_DIED'],
    ['it exits while settling', async (r) => {
      r.channel.emit('hello')
      r.channel.emit('frame', { t: 'ready' })
      await r.p.os.advance(10)
      r.exit({ code: null, signal: 'SIGKILL' })
      await r.p.os.advance(r.p.timings.lastFramesMs)
    }, 'SMOOTH_SUCCESSOR_EXITED'],
    ['it closes the channel', (r) => { r.channel.emit('hello'); r.channel.emit('close') }, 'SMOOTH_STATUS_CHANNEL_CLOSED'],
    ['one of its workers dies', (r) => { r.channel.emit('hello'); r.channel.emit('frame', { t: 'workerDied', workerPid: 7, code: 1 }) }, 'SMOOTH_SUCCESSOR_WORKER_DIED'],
    ['it says it failed with a code of its own', (r) => r.channel.emit('frame', { t: 'failed', code: 'SMOOTH_LISTEN_FAILED', message: 'cannot listen' }), 'SMOOTH_LISTEN_FAILED'],
    ['it says it failed with an error', (r) => r.channel.emit('frame', { t: 'failed', code: 'Error', message: 'release B is broken' }), 'SMOOTH_SUCCESSOR_START_FAILED'],
    ['a shutdown starts', (r) => r.p.stop(), 'SMOOTH_SHUTTING_DOWN'],
    ['it says ready before hello', (r) => r.channel.emit('frame', { t: 'ready' }), 'SMOOTH_UPGRADE_ILLEGAL_TRANSITION'],
    ['it says ready twice', (r) => { r.channel.emit('hello'); r.channel.emit('frame', { t: 'ready' }); r.channel.emit('frame', { t: 'ready' }) }, 'SMOOTH_UPGRADE_ILLEGAL_TRANSITION'],
  ]
  for (const [what, act, expected] of cases) {
    await t.test(what, async () => {
      const run = await start()
      await act(run)
      await run.p.os.advance(0)
      assert.equal(await run.result, expected)
      // One outcome only: later events change nothing.
      run.channel.emit('close')
      run.exit({ code: 0, signal: null })
      await run.p.os.advance(60_000)
      assert.equal(run.outcome(), expected)
    })
  }
})

test('the deadline before hello is successorHelloMs exactly', async () => {
  const run = await start()
  await run.p.os.advance(run.p.timings.successorHelloMs - 1)
  assert.equal(run.outcome(), undefined)
  await run.p.os.advance(1)
  assert.equal(await run.result, 'SMOOTH_SUCCESSOR_HELLO_TIMEOUT')
})
