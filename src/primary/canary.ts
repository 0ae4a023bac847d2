import { DURATION_BUCKETS } from '../metrics/request-counts.js'

/**
 * A canary's judgement: pure functions over the request counts of two groups of workers (the canary,
 * and the old workers beside it) over the same window. Nothing here touches a process: canary-run.ts
 * takes the counts off the workers' registries, which every request already updates (no extra work
 * on the request path, with or without a canary).
 */

/** Why a canary was rolled back: the `reason` label of smooth_rollouts_total, one error code each. */
export const CanaryReasons = {
  canary_errors: 'SMOOTH_CANARY_ERRORS',
  canary_latency: 'SMOOTH_CANARY_LATENCY',
  canary_check: 'SMOOTH_CANARY_CHECK',
  canary_crashed: 'SMOOTH_CANARY_CRASHED',
  canary_inconclusive: 'SMOOTH_CANARY_INCONCLUSIVE',
} as const
export type CanaryReason = keyof typeof CanaryReasons

/** The user's veto: answers true (or a 2xx from a URL) to promote. */
export type CanaryCheck = (figures: { canary: WindowFigures; old: WindowFigures }) => boolean | Promise<boolean>

export interface CanarySettings {
  /** How long the canary serves beside the old workers before it is judged. */
  windowMs: number
  /** Requests the canary must have answered before it is judged (the window is extended until then). */
  minRequests: number
  /** New workers that serve as the canary: a count, or a percentage of the workers ("25%"). */
  share: number | string
  /** Roll back when the canary's 5xx ratio is above this ... */
  maxErrorRatio: number
  /** ... and above this many times the old workers' ratio (an outage upstream hits both alike). */
  maxErrorRatioVsOld: number
  /** Roll back when the canary's p99 is above this many times the old workers' p99 ... */
  maxLatencyRatio: number
  /** ... and above this (ms): below it, p99s differ by JIT warm-up and scheduling, not by release. */
  minLatencyMs: number
  check?: string | CanaryCheck
}

/** Counts of one group of workers, cumulative since they started (or a difference of two). */
export interface Counts {
  requests: number
  /** Answers with a 5xx status. */
  errors: number
  /** Their durations summed, in seconds (exact, unlike the buckets). */
  seconds: number
  /** Per duration bucket (DURATION_BUCKETS, then one above the largest bound), not cumulative. */
  buckets: number[]
}

/**
 * Defaults (README "Canary rollouts" has the reasoning and the figures). window 30 s and minRequests
 * 100: p99 needs ~100 requests to be more than the slowest one, and 5 % errors show as ~5 failures
 * against ~0; 30 s adds little to a deploy. maxErrorRatio 1 % and 2 × the old workers' ratio.
 * maxLatencyRatio 2 (one bucket step) above a 25 ms floor: a fresh worker's first requests run before
 * V8 has optimised them (measured on good releases: canary p99 9.0 ms vs the old workers' 2.9 ms,
 * 6.9 vs 3.6; above 10 ms the ratio stayed under 1.7, e.g. 26.8 vs 15.9).
 */
export const canaryDefaults: CanarySettings = {
  windowMs: 30_000,
  minRequests: 100,
  share: 1,
  maxErrorRatio: 0.01,
  maxErrorRatioVsOld: 2,
  maxLatencyRatio: 2,
  minLatencyMs: 25,
}

export interface WindowFigures {
  requests: number
  errors: number
  errorRatio: number
  /** p99 in ms, interpolated in its histogram bucket as Prometheus' histogram_quantile does; null without requests. */
  p99Ms: number | null
  /** Mean duration in ms (exact); null without requests. */
  meanMs: number | null
}

export interface CanaryDecision {
  result: 'promoted' | 'rolled_back'
  reason?: CanaryReason
  /** One line: what was compared, with the figures. */
  why: string
  canary: WindowFigures
  old: WindowFigures
  /** The window (extended) was over with fewer than minRequests: nothing to judge on. */
  inconclusive?: boolean
}

export function emptyCounts(): Counts {
  return { requests: 0, errors: 0, seconds: 0, buckets: new Array<number>(DURATION_BUCKETS.length + 1).fill(0) }
}

export function addCounts(into: Counts, c: Counts): Counts {
  into.requests += c.requests
  into.errors += c.errors
  into.seconds += c.seconds
  c.buckets.forEach((n, i) => { into.buckets[i] = (into.buckets[i] ?? 0) + n })
  return into
}

/** `end` − `start`, never below 0 (a worker that left between the two is simply not in `end`). */
export function diffCounts(end: Counts, start: Counts): Counts {
  return {
    requests: Math.max(0, end.requests - start.requests),
    errors: Math.max(0, end.errors - start.errors),
    seconds: Math.max(0, end.seconds - start.seconds),
    buckets: end.buckets.map((n, i) => Math.max(0, n - (start.buckets[i] ?? 0))),
  }
}

/** The q-quantile of bucketed durations, in ms, linearly interpolated inside its bucket. */
export function quantileMs(buckets: number[], q: number): number | null {
  const total = buckets.reduce((a, b) => a + b, 0)
  if (total === 0) return null
  const rank = q * total
  let seen = 0
  for (let i = 0; i < buckets.length; i++) {
    const n = buckets[i]!
    if (seen + n >= rank && n > 0) {
      // Above the largest bound there is no upper edge: the largest bound is what can be said.
      if (i >= DURATION_BUCKETS.length) return DURATION_BUCKETS[DURATION_BUCKETS.length - 1]! * 1000
      const lower = i === 0 ? 0 : DURATION_BUCKETS[i - 1]!
      const upper = DURATION_BUCKETS[i]!
      return (lower + ((upper - lower) * (rank - seen)) / n) * 1000
    }
    seen += n
  }
  return null
}

export function figures(c: Counts): WindowFigures {
  return {
    requests: c.requests, errors: c.errors, errorRatio: c.requests > 0 ? c.errors / c.requests : 0,
    p99Ms: quantileMs(c.buckets, 0.99), meanMs: c.requests > 0 ? (c.seconds / c.requests) * 1000 : null,
  }
}

const pct = (r: number): string => `${(r * 100).toFixed(2)} %`
const ms = (v: number | null): string => (v === null ? 'n/a' : `${v.toFixed(1)} ms`)

/**
 * Promote or roll back, by the figures of one window. Errors first (a 5xx is a failed request; a
 * slow one is not), then latency. Each rule needs both an absolute and a relative excess, so an
 * outage that hits old and new workers alike does not block every deploy, and a tiny difference
 * in a tiny number does not fail one.
 */
export function judge(canaryCounts: Counts, oldCounts: Counts, s: CanarySettings): CanaryDecision {
  const canary = figures(canaryCounts)
  const old = figures(oldCounts)
  const base = { canary, old }
  // A canary that saw too little traffic proved nothing: it is not promoted on faith. (Keep-alive
  // connections stay with the old workers; the canary gets new connections only.)
  if (canary.requests < s.minRequests) {
    return {
      ...base, result: 'rolled_back', reason: 'canary_inconclusive', inconclusive: true,
      why: `canary answered ${canary.requests} requests (old workers ${old.requests}), fewer than minRequests ${s.minRequests}: nothing to judge on`,
    }
  }
  if (canary.errorRatio > s.maxErrorRatio && canary.errorRatio > old.errorRatio * s.maxErrorRatioVsOld) {
    return {
      ...base, result: 'rolled_back', reason: 'canary_errors',
      why: `canary 5xx ratio ${pct(canary.errorRatio)} (${canary.errors}/${canary.requests}) > maxErrorRatio ${pct(s.maxErrorRatio)} and > ${s.maxErrorRatioVsOld} × old workers' ${pct(old.errorRatio)} (${old.errors}/${old.requests})`,
    }
  }
  // The buckets are 2 to 2.5 × apart, so a p99 read from them moves in steps that size: a uniform
  // 3 × slowdown can show as 2 ×. The mean is exact (the durations' sum): it catches what the steps blur.
  const slower = (pick: (f: WindowFigures) => number | null, what: string): string | undefined => {
    const c = pick(canary)
    const o = pick(old)
    if (c === null || o === null || c <= s.minLatencyMs || c <= o * s.maxLatencyRatio) return undefined
    return `canary ${what} ${ms(c)} > ${s.maxLatencyRatio} × old workers' ${what} ${ms(o)} (and > minLatency ${s.minLatencyMs} ms)`
  }
  const latency = slower((f) => f.p99Ms, 'p99') ?? slower((f) => f.meanMs, 'mean')
  if (latency) return { ...base, result: 'rolled_back', reason: 'canary_latency', why: `${latency}; p99 ${ms(canary.p99Ms)} vs ${ms(old.p99Ms)}, mean ${ms(canary.meanMs)} vs ${ms(old.meanMs)}` }
  return {
    ...base, result: 'promoted',
    why: `canary 5xx ${pct(canary.errorRatio)} (${canary.errors}/${canary.requests}), p99 ${ms(canary.p99Ms)}, mean ${ms(canary.meanMs)}; old workers 5xx ${pct(old.errorRatio)} (${old.errors}/${old.requests}), p99 ${ms(old.p99Ms)}, mean ${ms(old.meanMs)}`,
  }
}
