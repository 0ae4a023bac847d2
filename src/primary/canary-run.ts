import { setTimeout as delay } from 'node:timers/promises'
import type { Logger } from 'pino'
import { SmoothError } from '../errors.js'
import { addCounts, diffCounts, emptyCounts, figures, judge, CanaryReasons, type CanaryDecision, type CanarySettings, type Counts, type WindowFigures } from './canary.js'

/** Cumulative counts by worker (or by generation): the canary's side and the old side. */
export interface CanarySample { canary: Map<string, Counts>; old: Map<string, Counts> }

/** What a rollout record shows of its canary while it runs and after (status, admin page, CLI). */
export interface CanaryView {
  phase: 'watching' | 'promoted' | 'rolled_back' | 'stopped'
  workers: number[]
  startedAt: number
  windowMs: number
  elapsedMs: number
  minRequests: number
  canary: WindowFigures
  old: WindowFigures
  decision?: { result: CanaryDecision['result']; reason?: string; why: string; inconclusive?: boolean }
}

export interface WatchOptions {
  settings: CanarySettings
  workers: number[]
  sample(): Promise<CanarySample>
  /** Why a canary worker is gone (it crashed), or undefined while they all serve. */
  crashed(): string | undefined
  stopped(): boolean
  /** Called with the live figures at every sample (the rollout record shows them). */
  update(view: CanaryView): void
  log: Logger
}

/** How often the figures are taken during the window: a scrape of the workers involved, no more. */
const SAMPLE_MS = 1000
/** A window with too little traffic is extended up to this many times its length, then judged. */
const MAX_EXTENSION = 3
const CHECK_TIMEOUT_MS = 10_000

/**
 * Watches a canary for its window: samples both sides, keeps each worker's difference from the start
 * (a worker that leaves keeps its last difference, so a group's total never drops), and judges at the
 * end. Resolves with the decision, or 'stopped' when a shutdown came first.
 */
export async function watchCanary(o: WatchOptions): Promise<CanaryDecision | 'stopped'> {
  const s = o.settings
  const startedAt = Date.now()
  const start = await o.sample()
  const last = { canary: new Map<string, Counts>(), old: new Map<string, Counts>() }
  const view: CanaryView = { phase: 'watching', workers: o.workers, startedAt, windowMs: s.windowMs, elapsedMs: 0, minRequests: s.minRequests, canary: figures(emptyCounts()), old: figures(emptyCounts()) }
  o.update(view)
  o.log.info({ canary: o.workers, windowMs: s.windowMs, minRequests: s.minRequests }, 'canary started')
  const totals = async (): Promise<{ canary: Counts; old: Counts }> => {
    const now = await o.sample()
    for (const side of ['canary', 'old'] as const) {
      for (const [key, c] of now[side]) {
        const from = start[side].get(key)
        // A worker that was not there at the start (a replacement) is not part of either side.
        if (from) last[side].set(key, diffCounts(c, from))
      }
    }
    return { canary: [...last.canary.values()].reduce(addCounts, emptyCounts()), old: [...last.old.values()].reduce(addCounts, emptyCounts()) }
  }
  for (;;) {
    await delay(Math.min(SAMPLE_MS, Math.max(50, s.windowMs / 4)))
    if (o.stopped()) {
      o.update({ ...view, phase: 'stopped' })
      return 'stopped'
    }
    const crash = o.crashed()
    const t = await totals()
    Object.assign(view, { elapsedMs: Date.now() - startedAt, canary: figures(t.canary), old: figures(t.old) })
    let decision: CanaryDecision | undefined
    if (crash) {
      decision = { result: 'rolled_back', reason: 'canary_crashed', why: `canary worker ${crash}`, canary: view.canary, old: view.old }
    } else if (view.elapsedMs >= s.windowMs && (t.canary.requests >= s.minRequests || view.elapsedMs >= s.windowMs * MAX_EXTENSION)) {
      decision = judge(t.canary, t.old, s)
      if (decision.result === 'promoted' && s.check) decision = await check(s.check, decision)
    }
    if (!decision) {
      o.update({ ...view })
      continue
    }
    const { result, reason, why, inconclusive } = decision
    o.update({ ...view, phase: result, decision: { result, ...(reason ? { reason } : {}), why, ...(inconclusive ? { inconclusive } : {}) } })
    const fields = { canary: o.workers, result, reason, canaryFigures: view.canary, oldFigures: view.old, elapsedMs: view.elapsedMs }
    if (result === 'promoted') o.log.info(fields, `canary promoted: ${why}`)
    else o.log.error(fields, `canary rolled back: ${why}`)
    return decision
  }
}

/** The user's veto: a function, or a URL that must answer 2xx. A check that throws or times out vetoes. */
async function check(c: string | NonNullable<CanarySettings['check']>, d: CanaryDecision): Promise<CanaryDecision> {
  let ok: boolean
  let detail: string
  try {
    if (typeof c === 'string') {
      const res = await fetch(c, { signal: AbortSignal.timeout(CHECK_TIMEOUT_MS) })
      ok = res.ok
      detail = `${c} answered ${res.status}`
    } else {
      ok = (await Promise.race([c({ canary: d.canary, old: d.old }), delay(CHECK_TIMEOUT_MS, 'timeout' as const, { ref: false })])) === true
      detail = `the check function answered ${ok ? 'ok' : 'not ok'}`
    }
  } catch (err) {
    ok = false
    detail = `the check failed: ${(err as Error).message}`
  }
  return ok ? { ...d, why: `${d.why}; ${detail}` } : { ...d, result: 'rolled_back', reason: 'canary_check', why: `${detail} (${d.why})` }
}

/** The error a rolled-back canary fails its rollout with: its reason's code, the figures in the message. */
export function canaryError(d: CanaryDecision): SmoothError {
  return new SmoothError(CanaryReasons[d.reason ?? 'canary_check'], d.why)
}

/** WatchOptions.crashed for a set of canary workers: the first one that died, named with its exit code. */
export function firstDeath(canaries: ReadonlyArray<{ state: string; pid: number; exitCode: number | null | undefined }>): () => string | undefined {
  return () => {
    const dead = canaries.find((s) => s.state === 'dead')
    return dead ? `${dead.pid} died (exit code ${dead.exitCode})` : undefined
  }
}
