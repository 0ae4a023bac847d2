import { readdirSync, readlinkSync } from 'node:fs'
import { procStat } from '../proc-stat.js'

/**
 * Which of our descriptors `fds` name a socket that another process also holds: read from /proc
 * (Linux) in one walk, among the processes of our process group (the anchor, every generation's
 * primary and workers). Used when a primary died with connection handles on their way: one nobody
 * else got has its last copy here, and is served here again rather than closed. Where /proc cannot
 * answer, every descriptor counts as held (the safe answer: ours closes, and a copy elsewhere, if any,
 * serves it alone). A descriptor in flight (written to a channel, not yet received) is in no process's
 * table: the caller asks tens of milliseconds after the primary died, when the anchor's relay, the
 * only hop left, has long delivered it.
 */
export function heldElsewhere(fds: readonly number[]): Set<number> {
  const held = new Set<number>()
  try {
    const ours = new Map<string, number[]>()
    for (const fd of fds) {
      if (fd < 0) {
        held.add(fd)
        continue
      }
      const socket = readlinkSync(`/proc/self/fd/${fd}`)
      ours.set(socket, [...(ours.get(socket) ?? []), fd])
    }
    const group = processGroup('self')
    for (const pid of readdirSync('/proc')) {
      if (ours.size === 0) break
      if (!/^\d+$/.test(pid) || Number(pid) === process.pid || processGroup(pid) !== group) continue
      for (const socket of socketsOf(pid)) {
        for (const fd of ours.get(socket) ?? []) held.add(fd)
        ours.delete(socket)
      }
    }
    return held
  } catch {
    return new Set(fds)
  }
}

/** The process group of `pid` (field 5 of /proc/<pid>/stat). */
const processGroup = (pid: string): string | undefined => procStat(pid)?.[2]

/** What the descriptors of `pid` point to ("socket:[inode]" for a socket); none if it is gone. */
function socketsOf(pid: string): string[] {
  let fds: string[]
  try {
    fds = readdirSync(`/proc/${pid}/fd`)
  } catch {
    return []
  }
  const out: string[] = []
  for (const fd of fds) {
    try {
      out.push(readlinkSync(`/proc/${pid}/fd/${fd}`))
    } catch { /* closed meanwhile */ }
  }
  return out
}
