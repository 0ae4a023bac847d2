import { SmoothError, ErrorCodes, type ErrorCode } from '../errors.js'

/**
 * Why a restart was rolled back, as one error with one code: the successor's own start-up error when
 * it recorded one (its SMOOTH_* code, or SMOOTH_SUCCESSOR_START_FAILED with what it threw), else the
 * reason the handshake saw.
 */
export function rollbackReason(err: unknown, pid: number | undefined, target: string, recorded: string | undefined): SmoothError {
  const seen = err instanceof SmoothError ? err : new SmoothError('SMOOTH_SUCCESSOR_SPAWN_FAILED', target, (err as Error).message)
  if (!recorded || !pid || !['SMOOTH_SUCCESSOR_EXITED', 'SMOOTH_STATUS_CHANNEL_CLOSED', 'SMOOTH_SUCCESSOR_START_FAILED'].includes(seen.code)) return seen
  const own = successorFailure(pid, recorded)
  // "exited (exit code 1)" says how; the recorded error says why.
  if (seen.code === 'SMOOTH_SUCCESSOR_EXITED' && own.code === 'SMOOTH_SUCCESSOR_START_FAILED') own.message = `${seen.message}: ${recorded}`
  return own
}

/** A successor's `CODE: message` (from its failure file or its `failed` frame) as our error. */
export function successorFailure(pid: number, text: string): SmoothError {
  const m = /^(SMOOTH_[A-Z_]+): ([^]*)$/.exec(text)
  if (m && m[1]! in ErrorCodes) {
    const e = new SmoothError(m[1] as ErrorCode)
    e.message = `successor ${pid}: ${m[2]}`
    return e
  }
  return new SmoothError('SMOOTH_SUCCESSOR_START_FAILED', pid, text)
}
