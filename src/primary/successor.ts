import { accessSync, constants, realpathSync, statSync } from 'node:fs'
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { resolve } from 'node:path'
import { SmoothError } from '../errors.js'

/** How a new generation is started: a command line and a name for logs. */
export interface LaunchPlan {
  command: string
  args: string[]
  /** What was asked for, for log lines and replies. */
  target: string
  node: boolean
}

/** Records that a successor could not start; loaded with `--import` into node successors. */
export const PRELOAD = fileURLToPath(new URL('./successor-preload.js', import.meta.url))
const PRELOAD_URL = pathToFileURL(PRELOAD).href

/** Node flags of this process, minus our own preload (a successor gets exactly one). */
function execArgv(): string[] {
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
 * The same entry again (its path as first given, so a `current -> releases/B` link is resolved anew),
 * or `newExeFilePath`: a .js/.mjs/.cjs entry run with this node, or an executable file.
 */
export function planLaunch(newExeFilePath?: string): LaunchPlan {
  const nodeArgs = ['--import', PRELOAD_URL, ...execArgv()]
  if (!newExeFilePath) {
    const entry = process.argv[1]!
    return { command: process.execPath, args: [...nodeArgs, entry, ...process.argv.slice(2)], target: entry, node: true }
  }
  const path = resolve(newExeFilePath)
  let real: string
  try {
    real = realpathSync(path)
  } catch {
    throw new SmoothError('SMOOTH_EXE_NOT_FOUND', JSON.stringify(newExeFilePath))
  }
  if (!statSync(real).isFile()) throw new SmoothError('SMOOTH_EXE_NOT_EXECUTABLE', JSON.stringify(newExeFilePath))
  if (/\.(c|m)?js$/.test(real)) {
    return { command: process.execPath, args: [...nodeArgs, path, ...process.argv.slice(2)], target: path, node: true }
  }
  try {
    accessSync(real, constants.X_OK)
  } catch {
    throw new SmoothError('SMOOTH_EXE_NOT_EXECUTABLE', JSON.stringify(newExeFilePath))
  }
  return { command: path, args: process.argv.slice(2), target: path, node: false }
}

/**
 * Starts a generation with the listening sockets as inherited descriptors 3, 4, ... in the order of
 * `fds`, and (under an anchor) an IPC channel after them.
 */
export function spawnGeneration(command: string, args: string[], fds: number[], env: NodeJS.ProcessEnv, ipc: boolean): ChildProcess {
  const stdio: StdioOptions = ['inherit', 'inherit', 'inherit', ...fds]
  if (ipc) stdio.push('ipc')
  return spawn(command, args, { stdio, env })
}
