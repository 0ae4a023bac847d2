/**
 * The worker pool on a fake OS (test/helpers/fake-os.ts): back-off, crash loop, readiness timeout,
 * drain deadlines and request/reply matching, each in milliseconds of real time. The real-process
 * proof of the same behaviour is workers.test.ts.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { pino } from 'pino'
import { WorkerPool, type WorkerSlot } from '../src/primary/workers.js'
import { FakeOs, autoWorker, fakeTimings, type FakeWorker } from './helpers/fake-os.js'
import type { SmoothError } from '../src/errors.js'

const timings = fakeTimings()
const codeOf = (err: unknown): string => (err as SmoothError).code

function makePool(size: number, opts: { readyTimeoutMs?: number } = {}): { pool: WorkerPool; os: FakeOs } {
  const os = new FakeOs()
  const pool = new WorkerPool({
    size, servers: ['app'], listeners: [{ index: 0, server: 'app', protocol: 'http' }], generation: 1,
    readyTimeoutMs: opts.readyTimeoutMs ?? 10_000, log: pino({ level: 'silent' }),
    launch: { entry: '/nonexistent/app.js', dir: '/nonexistent', original: true },
    handles: [{ fd: 7 } as never], onControl: () => {}, os, timings,
  })
  pool.on('gaveUp', () => {})
  return { pool, os }
}

const ready = (pool: WorkerPool): number => pool.live().filter((s) => s.state === 'ready').length

test('startAll: each worker gets the listening handles and accept after ready; resolves when all accept', async () => {
  const { pool, os } = makePool(3)
  os.onFork = (w) => autoWorker(w)
  const started = pool.startAll()
  await os.advance(0)
  await started
  assert.equal(ready(pool), 3)
  for (const w of os.workers) {
    assert.deepEqual(w.acts(), ['listen', 'accept'])
    assert.equal(w.sent[0]!.handle, (pool as unknown as { opts: { handles: unknown[] } }).opts.handles[0])
    assert.equal(w.spec.env.SMOOTH_ROLE, 'worker')
    // Every message is tagged and numbered by the wire module.
    for (const s of w.sent) assert.ok(s.msg.smooth === 1 && typeof s.msg.seq === 'number')
  }
})

test('a rollout worker (settleMs) gets connections only after settling', async () => {
  const { pool, os } = makePool(1)
  os.onFork = (w) => autoWorker(w)
  const slot = pool.fork(300)
  await os.advance(299)
  assert.deepEqual(os.workers[0]!.acts(), [])
  await os.advance(1)
  assert.equal(slot.state, 'ready')
})

test('a crash after a healthy life is replaced at once; crashes before healthy back off 250, 500, 1000 ms... capped', async () => {
  const { pool, os } = makePool(1)
  os.onFork = (w) => autoWorker(w)
  await os.advance(0)
  void pool.startAll()
  await os.advance(0)
  await os.advance(timings.healthyAfterMs)
  os.workers.at(-1)!.exit(1)
  await os.advance(0)
  assert.equal(os.workers.length, 2, 'replaced at once after a healthy life')
  const delays: number[] = []
  for (let i = 0; i < 9; i++) {
    const before: number = os.workers.length
    os.workers.at(-1)!.exit(1)
    let waited = 0
    while (os.workers.length === before) {
      await os.advance(50)
      waited += 50
    }
    delays.push(waited)
  }
  // The first one after a healthy worker is a failure of 1: 250 ms; then doubling, up to the cap.
  assert.deepEqual(delays, [250, 500, 1000, 2000, 4000, 8000, 16000, 30000, 30000])
  assert.equal(pool.crashes, 10)
})

test('crash loop before any worker was ever ready: the pool gives up after crashLoopAt failures in a row', async () => {
  const { pool, os } = makePool(2)
  os.onFork = (w) => setImmediate(() => w.exit(1))
  const started = pool.startAll()
  const outcome = started.then(() => 'started', (err: Error) => err.message)
  await os.advance(60_000)
  assert.match(await outcome, /^5 workers in a row exited before ready/)
  const forks = os.workers.length
  await os.advance(60_000)
  assert.equal(os.workers.length, forks, 'no more forks once given up')
})

test('readyTimeout: a worker that never says ready is killed (SIGKILL) and replaced', async () => {
  const { pool, os } = makePool(1, { readyTimeoutMs: 5_000 })
  os.onFork = (w) => { if (os.workers.length > 1) autoWorker(w) }
  const started = pool.startAll()
  await os.advance(4_999)
  assert.deepEqual(os.workers[0]!.signals, [])
  await os.advance(1)
  assert.deepEqual(os.workers[0]!.signals, ['SIGKILL'])
  await os.advance(1_000)
  await started
  assert.equal(ready(pool), 1)
})

test('whenAccepting: rejects with SMOOTH_WORKER_NOT_READY at its deadline (and kills it), SMOOTH_WORKER_EXITED_BEFORE_READY on exit', async () => {
  const { pool, os } = makePool(1)
  pool.stopReplacing()
  const slow = pool.fork()
  const late = pool.whenAccepting(slow, 1_000).catch(codeOf)
  await os.advance(1_000)
  assert.equal(await late, 'SMOOTH_WORKER_NOT_READY')
  assert.deepEqual(os.workers[0]!.signals, ['SIGKILL'])
  const dying = pool.fork()
  const gone = pool.whenAccepting(dying, 1_000).catch(codeOf)
  os.workers[1]!.exit(1)
  await os.advance(0)
  assert.equal(await gone, 'SMOOTH_WORKER_EXITED_BEFORE_READY')
})

test('drain: sends drain; a worker silent past its deadline is killed then, one that answers is killed only after the margin', async () => {
  const { pool, os } = makePool(2)
  os.onFork = (w) => autoWorker(w)
  const started = pool.startAll()
  await os.advance(0)
  await started
  for (const w of os.workers) w.removeAllListeners('received')
  const [silent, answering] = [...pool.slots.values()] as [WorkerSlot, WorkerSlot]
  pool.silentAfterMs = 2_000
  const drained = Promise.all([pool.drain(silent, 5_000), pool.drain(answering, 5_000)])
  await os.advance(0)
  assert.deepEqual(os.workers.map((w) => w.acts().at(-1)), ['drain', 'drain'])
  // The answering one keeps answering the heartbeat.
  const heartbeat = os.setInterval(() => os.workers[1]!.say('pong', { stats: { connections: 2, inflight: 0, rss: 1, heapUsed: 1 }, requests: 0 }), 500)
  await os.advance(5_000)
  assert.deepEqual(os.workers[0]!.signals, ['SIGKILL'])
  assert.deepEqual(os.workers[1]!.signals, [])
  await os.advance(timings.drainKillMarginMs)
  os.clearInterval(heartbeat)
  assert.deepEqual(os.workers[1]!.signals, ['SIGKILL'])
  await drained
  assert.equal(silent.forced, 1)
  assert.equal(answering.forced, 2, 'forced counts the connections it last reported')
})

test('two collectStats at once: each counts only its own replies (sequence numbers), and each worker answers both', async () => {
  const { pool, os } = makePool(2)
  os.onFork = (w) => autoWorker(w)
  const started = pool.startAll()
  await os.advance(0)
  await started
  // Worker 1 answers at once; worker 2 only the second request, late.
  const [w1, w2] = os.workers as [FakeWorker, FakeWorker]
  w2.removeAllListeners('received')
  const first = pool.collectStats(1_000)
  const second = pool.collectStats(1_000)
  await os.advance(0)
  const asks = w2.sent.filter((s) => s.msg.act === 'stats')
  assert.equal(asks.length, 2)
  let done = 0
  void first.then(() => done++)
  void second.then(() => done++)
  // Before the fix, w1's two replies counted as two answers for each request: both resolved here.
  await os.advance(10)
  assert.equal(done, 0, 'neither request took the other one\'s reply as its own')
  w2.say('statsReply', { ack: asks[1]!.msg.seq, stats: { connections: 5, inflight: 0, rss: 1, heapUsed: 1 } })
  await os.advance(0)
  assert.equal(done, 1, 'the second request got both its answers')
  await os.advance(1_000)
  assert.equal(done, 2, 'the first one ended at its deadline')
  assert.equal(w1.sent.filter((s) => s.msg.act === 'stats').length, 2)
})

test('under pressure: a worker stops accepting while another is healthy, and accepts again when it recovers', async () => {
  const { pool, os } = makePool(2)
  os.onFork = (w) => autoWorker(w)
  const started = pool.startAll()
  await os.advance(0)
  await started
  const w = os.workers[0]!
  w.say('pressure', { under: true })
  assert.equal(w.acts().at(-1), 'pause')
  w.say('pressure', { under: false })
  assert.deepEqual(w.acts().slice(-2), ['listen', 'accept'])
})
