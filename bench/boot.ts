/**
 * `node dist/bench/boot.js [rounds] [root ...]`: what a worker's boot costs, in figures that survive a
 * shared machine: CPU time (utime + stime from /proc) of each worker when the primary logs it ready,
 * fork to ready (from the process's start time in /proc, 10 ms steps), the primary's CPU at
 * `server ready`, each process's RSS after 1.5 s idle, and the CPU of the workers a reload boots.
 * `bench/apps/smooth-hello.js` (the demo's default settings) with WORKERS (default 2) workers.
 * Several roots (directories holding a build in dist/, e.g. a copy of main's) run side by side,
 * alternating their order each round; prints every run and the medians. Writes no file.
 */
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { ROOT, SmoothProcess } from '../test/helpers/proc.js'
import { childrenOf, cpuMs, rssMiB } from './tree.js'
import { median } from './hello.js'

const TICKS_PER_S = 100
const IDLE_MS = 1500
const rounds = Number(process.argv[2] ?? 5)
const roots = process.argv.length > 3 ? process.argv.slice(3).map((r) => resolve(r)) : [ROOT]
const workers = Number(process.env.WORKERS ?? 2)

interface Run {
  workerCpuMs: number[]
  forkToReadyMs: number[]
  primaryCpuMs: number
  rss: Record<string, number>
  reloadWorkerCpuMs: number[]
}

/** Milliseconds since the process started (its start time in /proc counts clock ticks since boot). */
function ageMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const startTicks = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19])
  const uptimeS = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0])
  return uptimeS * 1000 - (startTicks * 1000) / TICKS_PER_S
}

async function once(root: string): Promise<Run> {
  const p = new SmoothProcess(resolve(root, 'dist/bench/apps/smooth-hello.js'), { WORKERS: String(workers), PORT: '0' }, [], [], root)
  const run: Run = { workerCpuMs: [], forkToReadyMs: [], primaryCpuMs: 0, rss: {}, reloadWorkerCpuMs: [] }
  // Read each worker the moment its ready line arrives (its later idle CPU is not its boot's).
  const seen = new Set<number>()
  const sample = (into: number[], withAge: boolean): void => {
    for (const l of p.logs) {
      if (l.msg !== 'worker ready' || seen.has(Number(l.workerPid))) continue
      const pid = Number(l.workerPid)
      seen.add(pid)
      into.push(cpuMs(pid))
      if (withAge) run.forkToReadyMs.push(ageMs(pid))
    }
  }
  try {
    const initial = (): void => sample(run.workerCpuMs, true)
    p.child.stdout!.on('data', initial)
    const ready = await p.waitForMsg('server ready', 60_000)
    p.child.stdout!.off('data', initial)
    run.primaryCpuMs = cpuMs(Number(ready.pid))
    await sleep(IDLE_MS)
    const primary = Number(ready.pid)
    if (primary !== p.pid) run.rss.anchor = rssMiB(p.pid)
    run.rss.primary = rssMiB(primary)
    childrenOf(primary).forEach((w, i) => (run.rss[`worker ${i + 1}`] = rssMiB(w)))
    const from = p.logs.length
    const reloaded = (): void => sample(run.reloadWorkerCpuMs, false)
    p.child.stdout!.on('data', reloaded)
    p.signal('SIGUSR2')
    await p.waitForMsg('workers reloaded', 60_000, from)
    p.child.stdout!.off('data', reloaded)
    return run
  } finally {
    p.kill()
    await p.exited
  }
}

const runs = new Map<string, Run[]>(roots.map((r) => [r, []]))
for (let r = 0; r < rounds; r++) {
  for (const root of r % 2 === 0 ? roots : [...roots].reverse()) {
    const run = await once(root)
    runs.get(root)!.push(run)
    const f = (xs: number[]): string => xs.map((x) => x.toFixed(0)).join('/')
    console.log(`round ${r + 1} ${root}: worker CPU ms ${f(run.workerCpuMs)}, fork→ready ms ${f(run.forkToReadyMs)}, ` +
      `primary CPU ms ${run.primaryCpuMs.toFixed(0)}, reload worker CPU ms ${f(run.reloadWorkerCpuMs)}, RSS MiB ` +
      Object.entries(run.rss).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', '))
  }
}
console.log('\nmedians (all workers of all runs):')
for (const [root, rs] of runs) {
  const m = (xs: number[]): string => median(xs).toFixed(1)
  const rssOf = (k: string): string => m(rs.map((r) => r.rss[k] ?? NaN))
  const workerRss = rs.flatMap((r) => Object.entries(r.rss).filter(([k]) => k.startsWith('worker')).map(([, v]) => v))
  console.log(`${root}: worker boot CPU ${m(rs.flatMap((r) => r.workerCpuMs))} ms, reload worker CPU ${m(rs.flatMap((r) => r.reloadWorkerCpuMs))} ms, ` +
    `fork→ready ${m(rs.flatMap((r) => r.forkToReadyMs))} ms, primary CPU at ready ${m(rs.map((r) => r.primaryCpuMs))} ms, ` +
    `RSS anchor ${rssOf('anchor')}, primary ${rssOf('primary')}, worker ${m(workerRss)}, total ${m(rs.map((r) => Object.values(r.rss).reduce((a, b) => a + b, 0)))} MiB`)
}
