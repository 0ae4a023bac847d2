import { readFileSync, realpathSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { Gauge, type Registry } from 'prom-client'
import { originalLaunch, startDir, type Launch } from './launch.js'

/** Which version runs: what a generation reports in /status, the page, the CLI, /metrics and its log. */
export interface BuildInfo {
  /** The entry this generation runs, as given (symlinks kept) and resolved at its start. */
  entry: string
  entryResolved: string
  /** The entry the server was started with: what a restart without newExeFilePath runs. */
  startedWith: string
  /** The directory its processes start in, resolved at its start. */
  dir: string
  /** `version` of the package.json nearest above the resolved entry, if there is one. */
  version: string | null
  node: string
  startedAt: number
  /** The pid to send signals to: the anchor's (stable across restarts), or this primary's. */
  signalPid: number
}

export function buildInfo(launch: Launch, anchorPid: number | undefined): BuildInfo {
  const entryResolved = realOr(launch.entry)
  return {
    entry: launch.entry,
    entryResolved,
    startedWith: originalLaunch().entry,
    dir: realOr(startDir(launch)),
    version: packageVersion(entryResolved),
    node: process.version,
    startedAt: Date.now(),
    signalPid: anchorPid ?? process.pid,
  }
}

/** `smooth_build_info{entry, version, node} 1`, Prometheus' usual way to say which build runs. */
export function registerBuildInfo(registry: Registry, info: BuildInfo): void {
  const g = new Gauge({
    name: 'smooth_build_info', help: 'the running generation: entry (resolved), app version, node version',
    labelNames: ['entry', 'version', 'node'], registers: [registry],
  })
  g.set({ entry: info.entryResolved, version: info.version ?? '', node: info.node }, 1)
}

function packageVersion(entry: string): string | null {
  for (let d = dirname(entry); ; d = dirname(d)) {
    try {
      const v = (JSON.parse(readFileSync(join(d, 'package.json'), 'utf8')) as { version?: unknown }).version
      return typeof v === 'string' ? v : null
    } catch (err) {
      // Not there: look further up; there but unreadable or not JSON: no version to tell.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return null
    }
    if (dirname(d) === d) return null
  }
}

function realOr(p: string): string {
  try {
    return realpathSync(p)
  } catch {
    return p
  }
}
