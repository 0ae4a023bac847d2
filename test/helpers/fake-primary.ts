import { pino } from 'pino'
import type { Primary } from '../../src/primary/context.js'
import type { Listener } from '../../src/primary/listeners.js'
import { WorkerPool } from '../../src/primary/workers.js'
import { Rollouts } from '../../src/primary/rollout.js'
import { Upgrade } from '../../src/primary/upgrade/state.js'
import { PrimaryMetrics } from '../../src/metrics/primary-metrics.js'
import { WorkerCounts } from '../../src/metrics/worker-counts.js'
import { FakeOs, autoWorker, fakeTimings } from './fake-os.js'

export interface FakePrimary extends Primary {
  os: FakeOs
  pool: WorkerPool
  /** What a shutdown would run first (the stop hook a restart leaves). */
  stop(): void
  fatalities: unknown[]
}

/** A fake listening socket: an fd number and a `closed` flag. */
export function fakeListener(key: string, fd: number): Listener {
  const l = {
    spec: { key, index: 0, server: 'app', protocol: 'http', text: key } as unknown as Listener['spec'],
    handle: { fd, onconnection: null, listen: () => 0, close: () => {} },
    display: key, port: 1000 + fd, closed: false,
    close: () => { l.closed = true },
  }
  return l
}

/**
 * The state one primary process shares between its files (src/primary/context.ts), on a fake OS:
 * a real worker pool whose workers are FakeWorkers (scripted like real ones), real rollouts, metrics
 * and upgrade machine, and the settings a restart reads.
 */
export function fakePrimary(opts: { workers?: number; surge?: number; fullRestart?: boolean; stopping?: () => boolean } = {}): FakePrimary {
  const os = new FakeOs()
  os.onFork = (w) => autoWorker(w)
  const timings = fakeTimings()
  const log = pino({ level: 'silent' })
  let stopHook: (() => void) | undefined
  const size = opts.workers ?? 2
  const listeners = [fakeListener('127.0.0.1:1', 21)]
  const p = {
    log, generation: 1, anchor: undefined, os, timings, started: [],
    launch: { entry: '/nonexistent/app.js', dir: '/nonexistent', original: true },
    state: 'serving',
    config: {
      process: {
        workers: size, surge: opts.surge ?? 1, readyTimeoutMs: 10_000, gracefulTimeoutMs: 5_000, gracefulShutdownTimeoutMs: 5_000,
        fullRestart: opts.fullRestart ?? false, graceful: true, metrics: true,
      },
      servers: [], listeners: [],
    },
    listeners, adminServer: undefined, adminSecret: undefined,
    rollouts: new Rollouts(), upgrade: new Upgrade(),
    metrics: new PrimaryMetrics(() => ({})),
    counters: { restarts: 0, reloads: 0, workerCrashes: 0, rolloutFailures: 0 },
    build: {}, startedAt: 0, lastRefused: null, fatalities: [] as unknown[],
    stopRequested: opts.stopping ?? (() => false),
    onStop: (f: () => void) => { stopHook = f },
    stop: () => stopHook?.(),
    publishState: () => {},
    fatal: (err: unknown) => { p.fatalities.push(err); throw err },
    openAdmin: async () => {},
    shutdown: async () => {},
    markDone: () => {},
  } as unknown as FakePrimary
  const pool = new WorkerPool({
    size, servers: ['app'], listeners: [{ index: 0, server: 'app', protocol: 'http' }], generation: 1,
    readyTimeoutMs: 10_000, log, launch: p.launch, handles: listeners.map((l) => l.handle), onControl: () => {}, os, timings,
  })
  pool.on('gaveUp', () => {})
  p.pool = pool
  ;(p as { workerCounts: WorkerCounts }).workerCounts = new WorkerCounts(async () => pool.collectMetrics(), timings.peerMetricsWaitMs)
  return p
}

/** Starts the fake primary's workers; resolves when all accept. */
export async function serving(p: FakePrimary): Promise<void> {
  const all = p.pool.startAll()
  await p.os.advance(0)
  await all
}
