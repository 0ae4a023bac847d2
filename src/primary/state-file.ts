import { renameSync, unlinkSync, writeFileSync, readFileSync } from 'node:fs'
import type { RolloutRecord } from './rollout.js'

/**
 * `<pidFile>.json`, next to the pid file: the live generation's state, for `smooth --pid-file` to
 * follow a rollout it started with a signal (a signal carries no answer). Written atomically by the
 * live primary when it starts serving and when a rollout starts, ends or is refused.
 */
export interface ServerState {
  pid: number
  generation: number
  state: string
  rollout: RolloutRecord | null
  /** The last rollouts, newest first (carried across restarts). */
  rollouts: RolloutRecord[]
  /** The last refused rollout: a signal that changed nothing says so here. */
  refused: { kind: string; code: string; message: string; at: number } | null
  build: { entry: string; entryResolved: string; version: string | null; node: string }
}

export function stateFileOf(pidFile: string): string {
  return `${pidFile}.json`
}

/** Best effort: the pid file is what matters; a missing state file only means "cannot follow". */
export function writeState(pidFile: string, state: ServerState): void {
  const path = stateFileOf(pidFile)
  const tmp = `${path}.${process.pid}.tmp`
  try {
    writeFileSync(tmp, JSON.stringify(state))
    renameSync(tmp, path)
  } catch {
    try { unlinkSync(tmp) } catch { /* never written */ }
  }
}

export function readState(pidFile: string): ServerState | undefined {
  try {
    return JSON.parse(readFileSync(stateFileOf(pidFile), 'utf8')) as ServerState
  } catch {
    return undefined
  }
}

/** Removed at a full stop, only if it is still ours (a successor may have written it). */
export function removeState(pidFile: string, pid = process.pid): void {
  if (readState(pidFile)?.pid === pid) {
    try { unlinkSync(stateFileOf(pidFile)) } catch { /* gone */ }
  }
}
