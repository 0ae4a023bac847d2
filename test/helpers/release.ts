import { mkdirSync, writeFileSync, chmodSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { dist } from './proc.js'

export type Behaviour = 'ok' | 'throws' | 'never-ready' | 'dies-after-ready' | 'slow-start' | 'hangs' | 'primary-exits-after-ready'

/**
 * Writes a release of a small app into `dir`/app.mjs: `/` answers its version. `behaviour` makes a bad
 * release: it throws at start-up, its workers never get ready, or they exit right after ready;
 * `slow-start` makes a successor primary wait 3 s before it starts (a window to hit it in); `hangs`
 * makes it hold the inherited sockets and never say a word; `primary-exits-after-ready` makes the
 * successor primary exit (code 5) once all its workers accept, before the handover.
 */
export function writeRelease(dir: string, version: string, behaviour: Behaviour = 'ok'): string {
  mkdirSync(dir, { recursive: true })
  const smooth = pathToFileURL(dist('src/index.js')).href
  const file = join(dir, 'app.mjs')
  writeFileSync(file, `
import cluster from 'node:cluster'
import { server } from '${smooth}'
const behaviour = ${JSON.stringify(behaviour)}
const successor = process.env.SMOOTH_ROLE === 'primary' && Number(process.env.SMOOTH_GENERATION) > 1
if (behaviour === 'throws' && successor) throw new Error('release ${version} is broken')
if (behaviour === 'slow-start' && successor) await new Promise((r) => setTimeout(r, 3000))
if (behaviour === 'hangs' && successor) await new Promise(() => setInterval(() => {}, 1000))
if (behaviour === 'primary-exits-after-ready' && successor) {
  let accepting = 0
  cluster.on('message', (_w, msg) => { if (msg?.act === 'accepting' && ++accepting === 2) setTimeout(() => process.exit(5), 50) })
}
if (behaviour === 'never-ready' && cluster.isWorker && Number(process.env.SMOOTH_GENERATION) > 1) await new Promise(() => {})
const s = server()
s.bindHandler('/', async () => ${JSON.stringify(version)})
s.bindHandler('/slow', async () => { await new Promise((r) => setTimeout(r, 1500)); return ${JSON.stringify(version)} })
s.setAddress(process.env.ADDRESS ?? '127.0.0.1:0')
s.setWorkers(2)
s.setGraceful(true)
s.enableAdmin()
await s.start()
if (behaviour === 'dies-after-ready' && cluster.isWorker && Number(process.env.SMOOTH_GENERATION) > 1) setTimeout(() => process.exit(7), 20)
`)
  return file
}

export function writeShellExe(path: string, body: string, executable: boolean): string {
  writeFileSync(path, `#!/bin/sh\n${body}\n`)
  chmodSync(path, executable ? 0o755 : 0o644)
  return path
}
