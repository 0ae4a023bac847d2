import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createHash } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/**
 * How to reach the server `smooth start` runs from a directory, so `smooth status|reload|restart|
 * shutdown` typed in the same directory need no flags (as `pm2 reload app` needs none). It is written
 * in the app directory (.smooth/server.json) or, when that is read-only, in the user's runtime
 * directory. It holds no secret: the admin token stays in $SMOOTH_ADMIN_TOKEN.
 */
export interface ServerRecord {
  /** The pid the user started (the anchor): signals reach the live primary through it. */
  pid: number
  entry: string
  /** The admin base URL, when admin is on and the port is known. */
  admin?: string
}

function places(cwd: string): string[] {
  const runtimeDir = process.env.XDG_RUNTIME_DIR ?? join(tmpdir(), `smooth-${process.getuid?.() ?? 'user'}`)
  const key = createHash('sha256').update(cwd).digest('hex').slice(0, 16)
  return [join(cwd, '.smooth', 'server.json'), join(runtimeDir, 'smooth', `${key}.json`)]
}

/** Writes the record; returns where, or undefined when no place is writable (then flags are needed). */
export function writeRecord(cwd: string, record: ServerRecord): string | undefined {
  for (const file of places(cwd)) {
    try {
      mkdirSync(join(file, '..'), { recursive: true })
      writeFileSync(file, JSON.stringify(record) + '\n')
      return file
    } catch {
      // read-only: try the next place
    }
  }
  return undefined
}

export function readRecord(cwd: string): ServerRecord | undefined {
  for (const file of places(cwd)) {
    try {
      const r = JSON.parse(readFileSync(file, 'utf8')) as ServerRecord
      if (Number.isInteger(r.pid)) return r
    } catch {
      // absent or unreadable
    }
  }
  return undefined
}

/** Removes the record if it is still ours (a later `smooth start` may have replaced it). */
export function removeRecord(file: string, pid: number): void {
  try {
    if ((JSON.parse(readFileSync(file, 'utf8')) as ServerRecord).pid === pid) rmSync(file)
  } catch {
    // gone already
  }
}
