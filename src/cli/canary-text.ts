import type { CanaryView } from '../primary/canary-run.js'

const pct = (r: number): string => `${(r * 100).toFixed(2)} %`
const p99 = (v: number | null): string => (v === null ? 'n/a' : `${v.toFixed(1)} ms`)

/** A canary's figures beside the old workers', on one line (smooth status, smooth reload --canary). */
export function canaryLine(c: CanaryView): string {
  const side = (f: CanaryView['canary']): string => `${f.requests} requests, 5xx ${f.errors} (${pct(f.errorRatio)}), p99 ${p99(f.p99Ms)}, mean ${p99(f.meanMs)}`
  const head = c.decision ? `canary ${c.decision.result}${c.decision.reason ? ` (${c.decision.reason})` : ''}` : `canary ${c.phase}`
  return `${head} after ${(c.elapsedMs / 1000).toFixed(1)} of ${(c.windowMs / 1000).toFixed(0)} s: canary [${c.workers.join(', ')}] ${side(c.canary)} | old workers ${side(c.old)}`
}
