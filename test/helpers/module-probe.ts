/**
 * A `--import` preload (through NODE_OPTIONS) that records every module its process loads into
 * $MODULE_PROBE_DIR: ES modules as they load (`<pid>.esm`, from a load hook, which runs in node's
 * hooks thread of the same process), CommonJS ones at exit (`<pid>.cjs`, from require.cache, which
 * also holds packages that ES modules imported). Used to check what a role loads (demo.test.ts).
 */
import { register, createRequire } from 'node:module'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'

const dir = process.env.MODULE_PROBE_DIR
if (dir) {
  const hooks = `import { appendFileSync } from 'node:fs'
export async function load(url, context, next) {
  appendFileSync(${JSON.stringify(dir)} + '/' + process.pid + '.esm', url + '\\n')
  return next(url, context)
}`
  register(`data:text/javascript,${encodeURIComponent(hooks)}`)
  const cache = createRequire(import.meta.url).cache
  process.on('exit', () => writeFileSync(`${dir}/${process.pid}.cjs`, Object.keys(cache).join('\n')))
}

/** What process `pid` loaded, as paths relative to `root` (node: builtins left out). */
export function loadedModules(dir: string, pid: number, root: string): string[] {
  const read = (ext: string): string[] => (existsSync(`${dir}/${pid}.${ext}`) ? readFileSync(`${dir}/${pid}.${ext}`, 'utf8').split('\n') : [])
  const all = [...read('esm'), ...read('cjs')].filter((m) => m && !m.startsWith('node:')).map((m) => m.replace(/^file:\/\//, '').replace(`${root}/`, ''))
  return [...new Set(all)].sort()
}
