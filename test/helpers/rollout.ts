import type { SmoothProcess, LogLine } from './proc.js'
import { steadyLoad } from './load.js'

/** The pid of the live primary: the last generation that said `server ready`. */
export function livePrimary(p: SmoothProcess): LogLine {
  const ready = p.logs.filter((l) => l.msg === 'server ready' && l.role === 'primary')
  return ready[ready.length - 1]!
}

/**
 * Sends SIGUSR2 (reload) or SIGUSR1 (restart) and waits for the rollout's own outcome line: `workers
 * reloaded`, or `server restarted` (the handover, as the benchmarks time it); a failed or refused
 * rollout throws with its line.
 */
export async function rolloutBySignal(p: SmoothProcess, kind: 'reload' | 'restart', timeoutMs = 60_000): Promise<LogLine> {
  const from = p.logs.length
  p.signal(kind === 'reload' ? 'SIGUSR2' : 'SIGUSR1')
  const ok = kind === 'reload' ? 'workers reloaded' : 'server restarted'
  const line = await p.waitFor(`${kind} to finish`, (l) => l.msg === ok || /^(reload|server restarts) failed|^(reload|restart) refused/.test(l.msg), timeoutMs, from)
  if (line.msg !== ok) throw new Error(line.msg)
  return line
}

/** Sends SIGUSR2 and waits for the reload to finish; returns the pids of the workers it started. */
export async function reloadBySignal(p: SmoothProcess, timeoutMs = 30_000): Promise<number[]> {
  const from = p.logs.length
  p.signal('SIGUSR2')
  await p.waitFor('reload to finish', (l) => l.msg === 'workers reloaded' || /^reload (stopped|refused)/.test(l.msg), timeoutMs, from)
  const done = p.logs.slice(from).find((l) => l.msg === 'workers reloaded')
  if (!done) throw new Error(`reload failed:\n${p.tail()}`)
  return p.logs.slice(from).filter((l) => l.msg === 'reload progress').flatMap((l) => l.workers as number[])
}

/** Sends SIGUSR1 and waits until the old primary has shut down; returns the new primary's pid. */
export async function restartBySignal(p: SmoothProcess, timeoutMs = 30_000): Promise<number> {
  const old = livePrimary(p).pid
  const from = p.logs.length
  p.signal('SIGUSR1')
  await p.waitFor('the new generation to be ready', (l) => l.msg === 'server ready' && l.pid !== old || /restarts failed|restart refused/.test(l.msg), timeoutMs, from)
  const failed = p.logs.slice(from).find((l) => /restarts failed|restart refused/.test(l.msg))
  if (failed) throw new Error(`restart failed: ${failed.msg}`)
  await p.waitFor(`old primary ${old} to shut down`, (l) => l.msg === 'all servers shutdown' && l.pid === old, timeoutMs, from)
  return livePrimary(p).pid
}

/**
 * Starts a restart (SIGUSR1) of `p` under a light steady load on `port`, and resolves once the old
 * primary has started its successor: the moment most fault tests hit.
 */
export async function restartUnderLoad(p: SmoothProcess, port: number, load: { timeoutMs?: number } = {}) {
  const old = livePrimary(p).pid
  const traffic = steadyLoad(`http://127.0.0.1:${port}/`, { concurrency: 2, maxMs: 60_000, ...load })
  const from = p.logs.length
  p.signal('SIGUSR1')
  const started = await p.waitForMsg('successor started', 10_000, from)
  return { old, load: traffic, from, successor: Number(started.successor), statusChannel: String(started.statusChannel) }
}

/** Stops a load and fails the test if any of its requests failed. */
export async function noneFailed(load: ReturnType<typeof steadyLoad>): Promise<void> {
  const result = await load.stop()
  if (result.failed > 0) throw new Error(`${result.failed} requests failed: ${result.errors.join('; ')}`)
}
