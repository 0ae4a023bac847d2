import { getPriority, setPriority } from 'node:os'
import { readFileSync } from 'node:fs'

/**
 * A worker started by a rollout boots (loads and compiles the app) on the same cores the serving
 * workers answer on; at a lower CPU priority it takes the idle time first and the serving workers'
 * latency stays flat. Its priority is raised back when it starts accepting. Raising a priority needs
 * CAP_SYS_NICE or an RLIMIT_NICE that allows it: without either, workers boot at the normal priority
 * (lowering alone would leave every reloaded worker below the ones it serves beside).
 */
const BOOT_NICENESS = 10

let allowed: boolean | undefined

function canRestore(): boolean {
  if (allowed !== undefined) return allowed
  try {
    if (process.getuid?.() === 0) return (allowed = true)
    // "Max nice priority  <soft>  <hard>": a nice value down to 20 - soft may be set.
    const raw = /^Max nice priority\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1]
    const soft = raw === 'unlimited' ? Infinity : Number(raw)
    allowed = soft === Infinity || (Number.isFinite(soft) && 20 - soft <= getPriority())
  } catch {
    allowed = false
  }
  return allowed
}

/** Lowers a booting worker's priority; returns how to raise it back (a no-op if it was not lowered). */
export function bootQuietly(pid: number | undefined): () => void {
  if (!pid || !canRestore()) return () => {}
  const normal = getPriority()
  try {
    setPriority(pid, Math.min(19, normal + BOOT_NICENESS))
  } catch {
    return () => {}
  }
  return () => {
    try { setPriority(pid, normal) } catch { /* gone already */ }
  }
}
