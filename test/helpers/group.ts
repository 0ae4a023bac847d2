import { readdirSync, readFileSync } from 'node:fs'

/** Live (non-zombie) processes whose /proc stat matches `pick(fields)` (fields after the command name). */
function pidsWhere(pick: (fields: string[]) => boolean): number[] {
  const out: number[] = []
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8')
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      if (fields[0] !== 'Z' && pick(fields)) out.push(Number(name))
    } catch {
      // gone meanwhile
    }
  }
  return out.sort((a, b) => a - b)
}

/** Live processes in a process group. */
export function groupPids(pgid: number): number[] {
  return pidsWhere((f) => Number(f[2]) === pgid)
}

/** Live children of a process (the anchor's children are the live primaries). */
export function childPids(ppid: number): number[] {
  return pidsWhere((f) => Number(f[1]) === ppid)
}
