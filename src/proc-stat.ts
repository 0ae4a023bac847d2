import { readFileSync } from 'node:fs'

/**
 * The fields of /proc/<pid>/stat (Linux) after the parenthesised command name, which may itself hold
 * spaces and parentheses: [0] the state (Z: exited, not yet reaped), [2] the process group, and on
 * (proc(5) numbers them from 3). Undefined when the process is gone or there is no /proc.
 */
export function procStat(pid: number | string): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  } catch {
    return undefined
  }
}
