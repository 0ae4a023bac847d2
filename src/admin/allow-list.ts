import { existsSync, realpathSync, statSync } from 'node:fs'
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path'
import { SmoothError } from '../errors.js'

/** The app root: the directory of the nearest package.json above the entry, else the entry's directory. */
export function appRoot(entry = process.argv[1] ?? process.cwd()): string {
  let dir = dirname(realpathOr(entry))
  for (let d = dir; ; d = dirname(d)) {
    if (existsSync(resolve(d, 'package.json'))) return d
    if (dirname(d) === d) return dir
  }
}

function realpathOr(p: string): string {
  try {
    return realpathSync(p)
  } catch {
    return resolve(p)
  }
}

function inside(path: string, dir: string): boolean {
  const rel = relative(dir, path)
  return rel === '' || (!rel.startsWith('..' + sep) && rel !== '..' && !isAbsolute(rel))
}

/** Inside `dir`, under a node_modules directory that `dir` itself is not in (dependencies' files). */
function inNodeModules(path: string, dir: string): boolean {
  return relative(dir, path).split(sep).includes('node_modules')
}

/**
 * The admin API can make the server execute a file: a `newExeFilePath` it is given must resolve
 * (symlinks followed) inside one of the allowed directories, and not inside a node_modules directory
 * below it (any dependency's `bin` would do otherwise): else SMOOTH_EXE_NOT_ALLOWED (403). The file
 * (for a symlink: the file it points to) must be safe to run: not writable by
 * group or others, owned by the server's user or root: else SMOOTH_EXE_UNSAFE (403). Someone who can
 * change the file could otherwise make the server run anything.
 */
export function checkAllowed(newExeFilePath: string, allowList: string[]): void {
  const dirs = (allowList.length > 0 ? allowList : [appRoot()]).map(realpathOr)
  const given = resolve(newExeFilePath)
  const target = realpathOr(given)
  if (!dirs.some((d) => inside(target, d) && !inNodeModules(target, d))) {
    throw new SmoothError('SMOOTH_EXE_NOT_ALLOWED', JSON.stringify(newExeFilePath), `${dirs.join(', ')}; node_modules excluded`)
  }
  // A path that does not exist is planLaunch's to report (SMOOTH_EXE_NOT_FOUND).
  if (existsSync(target)) checkSafe(newExeFilePath, target)
}

/** Group- or world-writable, or owned by another user than ours or root: not safe to execute. */
export function unsafeBecause(path: string): string | undefined {
  const st = statSync(path)
  if ((st.mode & 0o022) !== 0) return `${path} is writable by ${st.mode & 0o002 ? 'everyone' : 'its group'} (mode ${(st.mode & 0o7777).toString(8)})`
  const me = process.getuid?.()
  if (me !== undefined && st.uid !== me && st.uid !== 0) return `${path} is owned by uid ${st.uid}, not by the server's user (${me}) or root`
  return undefined
}

function checkSafe(given: string, real: string): void {
  const why = unsafeBecause(real)
  if (why) throw new SmoothError('SMOOTH_EXE_UNSAFE', JSON.stringify(given), why)
}
