import { existsSync, realpathSync } from 'node:fs'
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

/**
 * The admin API can make the server execute a file: a `newExeFilePath` it is given must resolve
 * (symlinks followed) inside one of the allowed directories. Throws SMOOTH_EXE_NOT_ALLOWED (403).
 */
export function checkAllowed(newExeFilePath: string, allowList: string[]): void {
  const dirs = (allowList.length > 0 ? allowList : [appRoot()]).map(realpathOr)
  const target = realpathOr(resolve(newExeFilePath))
  if (!dirs.some((d) => inside(target, d))) {
    throw new SmoothError('SMOOTH_EXE_NOT_ALLOWED', JSON.stringify(newExeFilePath), dirs.join(', '))
  }
}
