import { EnvNames } from '../wire.js'
import { workerView } from './watchdog.js'
import { writeState } from './state-file.js'
import type { Primary } from './context.js'

/** The admin's `status`: this primary, its servers, its workers, its rollouts. */
export function statusOf(p: Primary): Record<string, unknown> {
  const { anchor, config, pool, counters } = p
  return {
    pid: process.pid,
    anchorPid: anchor?.gone ? null : Number(process.env[EnvNames.anchorPid]) || null,
    // 'gone': the anchor died; signals go to this pid (the pid file says so), restarts spawn directly.
    anchor: anchor?.gone || process.env[EnvNames.anchorGone] === '1' ? 'gone' : anchor ? 'alive' : 'none',
    generation: p.generation,
    state: p.state,
    uptimeMs: Date.now() - p.startedAt,
    build: p.build,
    graceful: config?.process.graceful ?? false,
    servers: config?.servers.map((s) => ({
      name: s.name,
      listeners: s.listeners.map((spec) => {
        const bound = p.listeners.find((l) => l.spec.index === spec.index)
        return { protocol: spec.protocol, address: bound?.display ?? spec.text, port: bound?.port }
      }),
    })) ?? [],
    workers: [...(pool?.slots.values() ?? [])].map(workerView),
    workersWanted: pool?.size ?? 0,
    admin: p.adminServer ? { address: p.adminServer.port } : null,
    rollout: p.rollouts.current ?? null,
    rollouts: p.rollouts.history,
    counters: { ...counters, workerCrashes: counters.workerCrashes + (pool?.crashes ?? 0), workerTimeouts: pool?.timeouts ?? 0 },
  }
}

/**
 * For load balancers and Kubernetes: ready while a generation serves — this one as soon as a worker
 * accepts (a successor's workers serve before its start-up is over), or the successor this one hands
 * over or handed over to — and not once shutting down.
 */
export function readiness(p: Primary): { ready: boolean; state: Primary['state']; generation: number } {
  const accepting = p.pool?.live().some((w) => w.state === 'ready') ?? false
  // (Not in a full restart: there the sockets are closed until the successor binds them.)
  const handingOver = p.upgrade.successor !== undefined && p.state === 'serving' && !p.config?.process.fullRestart
  const ready = p.state === 'retiring' || handingOver || ((p.state === 'serving' || p.state === 'starting') && accepting)
  return { ready, state: p.state, generation: p.generation }
}

/** The live generation's state next to the pid file, for `smooth --pid-file` (state-file.ts). */
export function publishState(p: Primary): void {
  const pidFile = p.config?.process.pidFile
  // Once the successor is live, it alone speaks for the server.
  if (!pidFile || p.upgrade.state === 'handedOver') return
  const { build } = p
  writeState(pidFile, {
    pid: process.pid, generation: p.generation, state: p.state, rollout: p.rollouts.current ?? null, rollouts: p.rollouts.history.slice(0, 5), refused: p.lastRefused,
    build: { entry: build.entry, entryResolved: build.entryResolved, version: build.version, node: build.node },
  })
}
