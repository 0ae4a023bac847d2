import { accessSync, constants, existsSync, realpathSync, statSync } from 'node:fs'
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { SmoothError } from '../errors.js'
import { launchOf, originalLaunch, resolveFrom, thisLaunch, type Launch } from './launch.js'

/** How a new generation is started: a command line and a name for logs. */
export interface LaunchPlan {
  command: string
  args: string[]
  /** What was asked for, for log lines and replies. */
  target: string
  node: boolean
  /** Its entry as given and the directory it starts in. */
  launch: Launch
}

/** Records that a successor could not start; loaded with `--import` into node successors. */
export const PRELOAD = fileURLToPath(new URL('./successor-preload.js', import.meta.url))
const PRELOAD_URL = pathToFileURL(PRELOAD).href

/**
 * Node flags of this process, minus our own preload (a successor gets exactly one, a worker none:
 * the file may be gone with a deleted release, and a worker has nothing to report through it).
 */
export function execArgv(): string[] {
  const out: string[] = []
  const argv = process.execArgv
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--import' && argv[i + 1] === PRELOAD_URL) {
      i++
      continue
    }
    out.push(argv[i]!)
  }
  return out
}

/**
 * The entry the server was started with (its path as first given, so a `current -> releases/B` link
 * is resolved anew; never the last `newExeFilePath`), or `newExeFilePath`: a .js/.mjs/.cjs entry run
 * with this node, or an executable file.
 */
export function planLaunch(newExeFilePath?: string): LaunchPlan {
  // This Smooth's preload may have been deleted with an old release: then the successor goes without.
  const nodeArgs = [...(existsSync(PRELOAD) ? ['--import', PRELOAD_URL] : []), ...execArgv()]
  if (!newExeFilePath) {
    const launch = originalLaunch()
    return { command: process.execPath, args: [...nodeArgs, launch.entry, ...process.argv.slice(2)], target: launch.entry, node: true, launch }
  }
  const path = resolveFrom(thisLaunch(), newExeFilePath)
  const launch = launchOf(path)
  let real: string
  try {
    real = realpathSync(path)
  } catch {
    throw new SmoothError('SMOOTH_EXE_NOT_FOUND', JSON.stringify(newExeFilePath))
  }
  if (!statSync(real).isFile()) throw new SmoothError('SMOOTH_EXE_NOT_EXECUTABLE', JSON.stringify(newExeFilePath))
  if (/\.(c|m)?js$/.test(real)) {
    return { command: process.execPath, args: [...nodeArgs, path, ...process.argv.slice(2)], target: path, node: true, launch }
  }
  try {
    accessSync(real, constants.X_OK)
  } catch {
    throw new SmoothError('SMOOTH_EXE_NOT_EXECUTABLE', JSON.stringify(newExeFilePath))
  }
  return { command: path, args: process.argv.slice(2), target: path, node: false, launch }
}

/**
 * Starts a generation with the listening sockets as inherited descriptors 3, 4, ... in the order of
 * `fds`, and (under an anchor) an IPC channel after them, in `cwd` (never the caller's own working
 * directory, which may have been deleted with an old release).
 */
export function spawnGeneration(command: string, args: string[], fds: number[], env: NodeJS.ProcessEnv, ipc: boolean, cwd: string): ChildProcess {
  const stdio: StdioOptions = ['inherit', 'inherit', 'inherit', ...fds]
  if (ipc) stdio.push('ipc')
  return spawn(command, args, { stdio, env, cwd })
}
