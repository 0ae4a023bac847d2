import { writeFileSync, renameSync, readFileSync, unlinkSync } from 'node:fs'
import { SmoothError } from '../errors.js'

/** Written atomically (temp file + rename), so a reader never sees a half-written pid. */
export function writePidFile(path: string, pid = process.pid): void {
  const tmp = `${path}.${pid}.tmp`
  try {
    writeFileSync(tmp, `${pid}\n`)
    renameSync(tmp, path)
  } catch (err) {
    try { unlinkSync(tmp) } catch { /* it may not exist */ }
    throw new SmoothError('SMOOTH_CONFIG_INVALID', `pidFile ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
  }
}

/** Removes the pid file only if it still names this process (a successor may have rewritten it). */
export function removePidFile(path: string, pid = process.pid): void {
  try {
    if (readFileSync(path, 'utf8').trim() === String(pid)) unlinkSync(path)
  } catch {
    // Already gone: nothing to do.
  }
}
