import { SmoothError } from '../errors.js'
import type { CanaryView } from './canary-run.js'
import type { CanarySettings } from './canary.js'

export type RolloutKind = 'reload' | 'restart' | 'scale'
export type RolloutResult = 'success' | 'failure'

export interface RolloutRecord {
  id: number
  kind: RolloutKind
  startedAt: number
  finishedAt?: number
  durationMs?: number
  result?: RolloutResult
  error?: { code: string; message: string }
  /** Workers rolled so far, of how many. */
  progress: { done: number; total: number; step: string }
  /** A canary rollout: its live figures beside the old workers', then its decision (canary-run.ts). */
  canary?: CanaryView
  /** A restart's canary settings, for the new generation that runs it (a check function stays behind). */
  canaryAsked?: CanarySettings
  /** What the drains did with their connections: handed to a ready worker, or closed (by reason). */
  connections?: { handedOver: number; closed: Record<string, number> }
}

const HISTORY = 20

/**
 * The one owner of "what rollout is running". A rollout is a reload or a restart; only one runs at a
 * time, and a second one is refused (never queued, never run in parallel). The invariant, as in
 * tableflip: at most one rollout, and while it runs at most N + surge workers of either generation.
 */
export class Rollouts {
  current: RolloutRecord | undefined
  readonly history: RolloutRecord[] = []
  private nextId = 1

  /** `closed`: whether the server is shutting down or retiring (no rollout starts then). */
  constructor(private readonly closed: () => boolean = () => false) {}

  /** Runs `body` as the current rollout, or throws SMOOTH_ROLLOUT_IN_PROGRESS / SMOOTH_SHUTTING_DOWN. */
  begin(kind: RolloutKind, total: number): RolloutRecord {
    if (this.closed()) throw new SmoothError('SMOOTH_SHUTTING_DOWN')
    if (this.current) throw new SmoothError('SMOOTH_ROLLOUT_IN_PROGRESS', this.current.kind)
    this.current = { id: this.nextId++, kind, startedAt: Date.now(), progress: { done: 0, total, step: 'starting' } }
    return this.current
  }

  /**
   * A successor takes over the previous generation's history, and shows the restart that is making it
   * as its current rollout until `finish`ed at the handover.
   */
  adopt(history: RolloutRecord[], restart: RolloutRecord | undefined): void {
    this.history.push(...history.slice(0, HISTORY))
    this.nextId = Math.max(this.nextId, ...history.map((r) => r.id + 1), (restart?.id ?? 0) + 1)
    if (restart) this.current = restart
  }

  finish(rec: RolloutRecord, err?: unknown): void {
    rec.finishedAt = Date.now()
    rec.durationMs = rec.finishedAt - rec.startedAt
    rec.result = err ? 'failure' : 'success'
    if (err) {
      const e = err as SmoothError
      rec.error = { code: e.code ?? 'ERROR', message: e.message }
    }
    if (this.current === rec) this.current = undefined
    this.history.unshift(rec)
    this.history.length = Math.min(this.history.length, HISTORY)
  }
}
