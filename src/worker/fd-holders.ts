import { readdirSync, readFileSync, readlinkSync } from 'node:fs'

/**
 * Whether a process other than this one holds the socket behind our descriptor `fd`: read from
 * /proc (Linux), among the processes of our process group (the anchor, every generation's primary and
 * workers). Used once, when a primary died with a connection handle on its way: if nobody else got it,
 * ours is its last copy and it is served here again rather than closed. Where /proc cannot answer, the
 * answer is yes (the safe one: ours closes, and a copy elsewhere, if any, serves it alone).
 */
export function heldElsewhere(fd: number | undefined): boolean {
  if (fd === undefined || fd < 0) return true
  try {
    const socket = readlinkSync(`/proc/self/fd/${fd}`)
    const group = processGroup('self')
    for (const pid of readdirSync('/proc')) {
      if (!/^\d+$/.test(pid) || Number(pid) === process.pid || processGroup(pid) !== group) continue
      if (holds(pid, socket)) return true
    }
    return false
  } catch {
    return true
  }
}

/** The process group of `pid` (field 5 of /proc/<pid>/stat, after the parenthesised command name). */
function processGroup(pid: string): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]
  } catch {
    return undefined
  }
}

function holds(pid: string, socket: string): boolean {
  let fds: string[]
  try {
    fds = readdirSync(`/proc/${pid}/fd`)
  } catch {
    return false
  }
  for (const fd of fds) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`) === socket) return true
    } catch { /* closed meanwhile */ }
  }
  return false
}
