import { test } from 'node:test'
import assert from 'node:assert/strict'
import { pino } from 'pino'
import { Watchdog } from '../src/primary/watchdog.js'
import type { WorkerPool, WorkerSlot } from '../src/primary/workers.js'
import { until } from './helpers/proc.js'

/** A worker as the watchdog sees it: answers each ping at once unless `hung`; records kills. */
function fakeWorker() {
  const w = {
    state: 'ready', lastSeen: Date.now(), responding: true, killedFor: undefined as string | undefined, hung: false, kills: [] as string[],
    id: 1, pid: 1, stats: undefined,
    send() { if (!w.hung) w.lastSeen = Date.now() },
    kill: (sig: string) => { w.kills.push(sig) },
  }
  return w
}

function poolOf(w: ReturnType<typeof fakeWorker>): WorkerPool {
  return { live: () => [w as unknown as WorkerSlot], silentAfterMs: Infinity, killForced: () => {} } as unknown as WorkerPool
}

test('the watchdog forgives a silence that was the primary\'s own (its event loop held up), and kills a worker that is really silent', { timeout: 10_000 }, async () => {
  const w = fakeWorker()
  const dog = new Watchdog(poolOf(w), 400, pino({ level: 'silent' }))
  let timeouts = 0
  dog.on('timeout', () => timeouts++)
  dog.start()
  try {
    await until('a few heartbeats', () => Date.now() - w.lastSeen < 50, 2000, 10)
    // The primary's own loop blocked for 3× the timeout: the worker could not be heard, through no fault of its own.
    const end = Date.now() + 1200
    while (Date.now() < end) { /* primary busy */ }
    await new Promise((r) => setTimeout(r, 300))
    assert.deepEqual(w.kills, [], 'no worker is killed for the primary\'s own pause')
    w.hung = true
    await until('the silent worker to be killed', () => w.kills.length > 0, 3000, 20)
    assert.deepEqual(w.kills, ['SIGKILL'])
    assert.equal(w.killedFor, 'timeout')
    assert.equal(timeouts, 1)
    assert.equal(w.responding, false)
  } finally {
    dog.stop()
  }
})
