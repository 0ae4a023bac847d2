import { writeFileSync, renameSync, readFileSync, unlinkSync } from 'node:fs'
import { dirname } from 'node:path'
import { SmoothError } from '../errors.js'

/** What to do about a pid file that cannot be written. */
function why(path: string, err: NodeJS.ErrnoException): string {
  const dir = dirname(path)
  switch (err.code) {
    case 'ENOENT': return `the directory ${dir} does not exist: create it (systemd: RuntimeDirectory=), or set pidFile to a file in an existing directory`
    case 'EACCES': case 'EPERM': return `this user cannot write in ${dir}: give it write access, or set pidFile elsewhere`
    case 'ENOTDIR': return `${dir} is not a directory`
    default: return err.message
  }
}

/** Written atomically (temp file + rename), so a reader never sees a half-written pid. */
export function writePidFile(path: string, pid = process.pid): void {
  const tmp = `${path}.${pid}.tmp`
  try {
    writeFileSync(tmp, `${pid}\n`)
    renameSync(tmp, path)
  } catch (err) {
    try { unlinkSync(tmp) } catch { /* it may not exist */ }
    const e = err as NodeJS.ErrnoException
    throw new SmoothError('SMOOTH_CONFIG_INVALID', `pidFile ${path}: ${why(path, e)}${e.code ? ` (${e.code})` : ''}`)
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
