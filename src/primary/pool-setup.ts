import type { ResolvedConfig } from '../config/resolve.js'
import type { MetricsJson } from '../metrics/primary-metrics.js'
import { isShutdownSignal } from '../wire.js'
import { WorkerPool, type WorkerSlot } from './workers.js'
import { Watchdog } from './watchdog.js'
import { Recycler } from './recycle.js'
import { dispatchSignal, type SignalActions } from './signals.js'
import { control } from './admin-dispatch.js'
import type { Primary } from './context.js'
import { wireHandOff, addDrainConnections } from './handoff.js'

/** The primary's worker pool, wired to its metrics, its signal actions and the admin's control requests. */
export function createPool(p: Primary, onSignal: SignalActions): WorkerPool {
  const { config, log, metrics, workerCounts } = p
  const pool = new WorkerPool({
    size: config.process.workers,
    servers: config.servers.map((s) => s.name),
    listeners: config.listeners.map((l) => ({ index: l.index, server: l.server, protocol: l.protocol })),
    generation: p.generation,
    readyTimeoutMs: config.process.readyTimeoutMs,
    log,
    launch: p.launch,
    handles: p.listeners.map((l) => l.handle),
    onControl: (msg, from) => void control(p, msg, from).catch((err: unknown) => log.error({ err }, 'control request failed')),
    os: p.os,
    timings: p.timings,
  })
  pool.on('exit', (slot: WorkerSlot) => { if (slot.crashed && !slot.killedFor) metrics.crash() })
  pool.on('signal', (slot: WorkerSlot, signal: string) => {
    // Ctrl-C reaches every process of the group: a shutdown already under way needs no echo.
    if (p.stopRequested() && isShutdownSignal(signal)) return
    log.info({ signal, workerPid: slot.pid }, 'signal forwarded by a worker')
    dispatchSignal(onSignal, signal)
  })
  pool.on('counts', (_slot: WorkerSlot, final: MetricsJson | undefined) => workerCounts.workerGone(final))
  pool.on('drained', (slot: WorkerSlot, ms: number) => {
    metrics.drainDuration.observe(ms / 1000)
    metrics.forced(slot.forced)
    if (p.rollouts.current) addDrainConnections(p.rollouts.current, slot.handOff)
  })
  p.handOff = wireHandOff(pool, p.anchor, log, config.process.handOffConnections)
  watchWorkers(p, pool, config)
  return pool
}

/** Hung workers are killed (workerTimeout); workers over a limit are recycled (maxWorker*). */
function watchWorkers(p: Primary, pool: WorkerPool, config: ResolvedConfig): void {
  const { log, metrics } = p
  const watchdog = new Watchdog(pool, config.process.workerTimeoutMs, log)
  watchdog.on('timeout', () => metrics.timeout())
  watchdog.start()
  // under-pressure's memory limits are per server; the workers run every server: the lowest counts.
  const lowest = (pick: (s: ResolvedConfig['servers'][number]) => number | undefined): number => {
    const set = config.servers.map(pick).filter((v): v is number => v !== undefined && v > 0)
    return set.length > 0 ? Math.min(...set) : 0
  }
  const limits = {
    rssBytes: config.process.maxWorkerMemory,
    pressureRssBytes: lowest((s) => s.underPressure.maxRssBytes),
    pressureHeapBytes: lowest((s) => s.underPressure.maxHeapUsedBytes),
    requests: config.process.maxWorkerRequests,
    ageMs: config.process.maxWorkerAgeMs,
  }
  if (!Recycler.needed(limits)) return
  const recycler = new Recycler(pool, {
    limits, log, settleMs: p.timings.workerSettleMs,
    readyTimeoutMs: config.process.readyTimeoutMs,
    gracefulTimeoutMs: config.process.gracefulTimeoutMs,
    canRun: () => p.state === 'serving' && !p.rollouts.current && p.upgrade.idle,
  })
  recycler.on('recycled', (reason: string) => metrics.recycled(reason))
  recycler.start()
}
