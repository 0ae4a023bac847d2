import { existsSync, realpathSync, statSync } from 'node:fs'
import { dirname, isAbsolute, join, relative, resolve } from 'node:path'
import { EnvNames } from '../env.js'

/**
 * Where every new process starts. Releases are deleted (`rm -rf releases/v1`) while the server runs,
 * so no process may inherit its parent's working directory: it could be gone (`ENOENT uv_cwd`). The
 * first process records the entry and the directory as the user gave them, symlinks kept (`current`,
 * not `releases/v1`); every successor, worker and replacement starts there, resolved by the kernel
 * anew at that moment, so a switched `current` link is followed and a deleted release never is.
 */
export const LaunchEnv = { entry: EnvNames.entry, dir: EnvNames.appDir } as const

/** Records the entry and directory as given, once (the anchor, or a first primary without one). */
export function recordLaunch(env: NodeJS.ProcessEnv = process.env): void {
  if (env[LaunchEnv.entry]) return
  const argv1 = process.argv[1] ?? ''
  let real: string
  try {
    real = process.cwd()
  } catch {
    real = dirname(argv1)
  }
  // getcwd() returns the resolved directory. The symlink the user went through is in the shell's PWD,
  // or in the entry's path (systemd: WorkingDirectory=/srv/app/current, ExecStart=… /srv/app/current/app.js).
  const candidates = [env.PWD]
  for (let d = dirname(argv1); isAbsolute(d) && dirname(d) !== d; d = dirname(d)) candidates.push(d)
  const logical = candidates.find((d) => d && isAbsolute(d) && realOr(d) === real) ?? real
  const rel = relative(real, argv1)
  const under = rel !== '' && !rel.startsWith('..') && !isAbsolute(rel)
  env[LaunchEnv.entry] = under ? join(logical, rel) : argv1
  env[LaunchEnv.dir] = logical
}

/** A generation's code and where its processes start. */
export interface Launch {
  /** The entry as given (symlinks kept; workers run it, resolved anew at each fork). */
  entry: string
  /** The directory its processes start in (symlinks kept). */
  dir: string
  /** This generation runs the entry the server was started with (not a `newExeFilePath`). */
  original: boolean
}

/** The original entry and directory. */
export function originalLaunch(env: NodeJS.ProcessEnv = process.env): Launch {
  const entry = env[LaunchEnv.entry] ?? process.argv[1] ?? ''
  return { entry, dir: env[LaunchEnv.dir] ?? dirname(entry), original: true }
}

/** What a `newExeFilePath` runs in: the nearest directory above it with a package.json, as given. */
export function launchOf(path: string, env: NodeJS.ProcessEnv = process.env): Launch {
  const first = originalLaunch(env)
  if (path === first.entry || sameFile(path, first.entry)) return first
  return { entry: path, dir: packageDir(path), original: false }
}

/** This process's own launch: the original one, or the `newExeFilePath` it was started from. */
export function thisLaunch(env: NodeJS.ProcessEnv = process.env): Launch {
  return launchOf(process.argv[1] ?? '', env)
}

/**
 * The directory to start a process in now: the launch's directory if it exists (a symlink is
 * resolved by the kernel at the chdir), else the entry's, else `/`. Never the caller's own cwd.
 */
export function startDir(launch: Launch): string {
  for (const d of [launch.dir, dirname(launch.entry)]) if (isDir(d)) return d
  return '/'
}

/** Resolves a path a user gave against the launch directory (our own cwd may have been deleted). */
export function resolveFrom(launch: Launch, path: string): string {
  return isAbsolute(path) ? resolve(path) : resolve(startDir(launch), path)
}

function packageDir(path: string): string {
  const start = dirname(path)
  for (let d = start; ; d = dirname(d)) {
    if (existsSync(join(d, 'package.json'))) return d
    if (dirname(d) === d) return start
  }
}

function isDir(d: string): boolean {
  try {
    return statSync(d).isDirectory()
  } catch {
    return false
  }
}

function realOr(p: string): string {
  try {
    return realpathSync(p)
  } catch {
    return p
  }
}

function sameFile(a: string, b: string): boolean {
  try {
    return realpathSync(a) === realpathSync(b)
  } catch {
    return false
  }
}
