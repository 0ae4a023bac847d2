/** A process tree as /proc shows it: pids, CPU time and resident memory (Linux only). */
import { readFileSync } from 'node:fs'

const TICKS_PER_S = 100

export function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number)
  } catch {
    return []
  }
}

/** `pid` and every descendant. */
export function treeOf(pid: number): number[] {
  const out = [pid]
  for (let i = 0; i < out.length; i++) out.push(...childrenOf(out[i]!))
  return out
}

/** utime + stime of a process, in ms (a process gone meanwhile counts 0). */
export function cpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_S
  } catch {
    return 0
  }
}

export function treeCpuMs(pid: number): number {
  return treeOf(pid).reduce((a, p) => a + cpuMs(p), 0)
}

/**
 * A process's memory beyond VmRSS: `fileMiB` is the part of its RSS backed by files (for a Node
 * process, mostly the node binary's own pages, which every Node process counts in full), `pssMiB` its
 * proportional share (pages shared by k processes count 1/k in each), from smaps_rollup.
 */
export function memoryMiB(pid: number): { fileMiB: number; pssMiB: number } {
  try {
    const kb = (text: string, field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(text)?.[1]) / 1024
    return { fileMiB: kb(readFileSync(`/proc/${pid}/status`, 'utf8'), 'RssFile'), pssMiB: kb(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'), 'Pss') }
  } catch {
    return { fileMiB: NaN, pssMiB: NaN }
  }
}

export function rssMiB(pid: number): number {
  try {
    const kb = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]
    return Number(kb) / 1024
  } catch {
    return NaN
  }
}
