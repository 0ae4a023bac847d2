import { readdirSync, readFileSync } from 'node:fs'

/** Live (non-zombie) processes in a process group, read from /proc. */
export function groupPids(pgid: number): number[] {
  const out: number[] = []
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8')
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      if (fields[0] !== 'Z' && Number(fields[2]) === pgid) out.push(Number(name))
    } catch {
      // gone meanwhile
    }
  }
  return out.sort((a, b) => a - b)
}
