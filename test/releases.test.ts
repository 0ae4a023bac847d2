import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { Agent } from 'node:http'
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { SmoothProcess, dist, killAll } from './helpers/proc.js'
import { get } from './helpers/http.js'
import { steadyLoad } from './helpers/load.js'
import { livePrimary, reloadBySignal, restartBySignal } from './helpers/rollout.js'

after(killAll)
const root = mkdtempSync(join(tmpdir(), 'smooth-releases-'))
after(() => rmSync(root, { recursive: true, force: true }))
const run = promisify(execFile)

/** A release as a deploy tool unpacks it: app.mjs, package.json with its version, its own smooth.yaml. */
function release(version: string, workers: number): string {
  const dir = join(root, 'releases', version)
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'app', version }))
  writeFileSync(join(dir, 'smooth.yaml'), `server:\n  graceful: true\n  workers: ${workers}\n  adminExeAllowList: ${JSON.stringify(root)}\n`)
  writeFileSync(join(dir, 'app.mjs'), `
import { server } from ${JSON.stringify(pathToFileURL(dist('src/index.js')).href)}
const s = server()
s.bindHandler('/', async () => ${JSON.stringify(version)})
s.bindHandler('/pid', async () => String(process.pid))
s.setAddress('127.0.0.1:0')
s.enableAdmin()
await s.start()
`)
  return join(dir, 'app.mjs')
}

/** `ln -sfn releases/<version> current`, atomically. */
function point(current: string, version: string): void {
  symlinkSync(join(root, 'releases', version), `${current}.next`)
  renameSync(`${current}.next`, current)
}

interface Status { generation: number; workers: Array<{ pid: number; state: string }>; build: { entry: string; entryResolved: string; startedWith: string; version: string; node: string; signalPid: number } }

test('release layout: switch, delete the old release, kill a worker, reload, restart, a new workers: setting; which version runs, everywhere', { timeout: 180_000 }, async () => {
  release('1.0.0', 1)
  release('2.0.0', 2)
  release('3.0.0', 1)
  const current = join(root, 'current')
  point(current, '1.0.0')
  // As systemd runs it: WorkingDirectory=current, the entry through current, no shell PWD.
  const p = new SmoothProcess(join(current, 'app.mjs'), { PWD: undefined }, [], [], current)
  try {
    const port = await p.ready()
    const url = `http://127.0.0.1:${port}`
    const body = async (path = '/') => (await get(url + path)).body
    const status = async () => JSON.parse((await get(`${url}/debug/admin/status`)).body) as Status
    assert.equal(await body(), '1.0.0')
    /** Load on new and on keep-alive connections while `during` runs: not one request may fail. */
    const underLoad = async (during: () => Promise<void>): Promise<void> => {
      const fresh = steadyLoad(`${url}/`, { concurrency: 2, maxMs: 120_000 })
      const keepAlive = new Agent({ keepAlive: true, maxSockets: 2 })
      const reused = steadyLoad(`${url}/`, { concurrency: 2, maxMs: 120_000, agent: keepAlive })
      try {
        await during()
      } finally {
        const results = { fresh: await fresh.stop(), keepAlive: await reused.stop() }
        keepAlive.destroy()
        for (const [kind, r] of Object.entries(results)) {
          assert.equal(r.failed, 0, `failed requests (${kind}): ${r.failed} ${r.errors.join('; ')}\n${p.tail()}`)
          assert.ok(r.ok > 0)
        }
      }
    }
    await underLoad(async () => {
      point(current, '2.0.0')
      await restartBySignal(p)
      assert.equal(await body(), '2.0.0')
      rmSync(join(root, 'releases', '1.0.0'), { recursive: true })
    })
    // A worker killed (outside the load: what it held dies with it): its replacement starts, with no
    // crash loop, in a directory that exists, while the other worker serves.
    const victim = (await status()).workers[0]!.pid
    const from = p.logs.length
    process.kill(victim, 'SIGKILL')
    await underLoad(async () => {
      await p.waitFor('a replacement worker', (l) => l.msg === 'worker ready' && l.workerPid !== victim, 20_000, from)
      assert.ok(!p.logs.slice(from).some((l) => l.msg === 'worker crash loop: backing off'))
      await reloadBySignal(p)
      assert.equal(await body(), '2.0.0')
      await restartBySignal(p)
      assert.equal(await body(), '2.0.0')

      // v3 asks for 1 worker in its own smooth.yaml: a reload says it cannot apply that, a restart does.
      point(current, '3.0.0')
      const beforeReload = p.logs.length
      await reloadBySignal(p)
      const note = p.logs.slice(beforeReload).find((l) => /^config changed/.test(l.msg))
      assert.ok(note && (note.settings as string[]).includes('workers'), 'the reload says workers: needs a restart')
      await restartBySignal(p)
      assert.equal(await body(), '3.0.0')
    })
    const s = await status()
    assert.equal(s.workers.filter((w) => w.state === 'ready').length, 1)

    // Which version runs: /status, /metrics, the CLI and the start-up line agree.
    assert.equal(s.build.version, '3.0.0')
    assert.equal(s.build.entry, join(current, 'app.mjs'))
    assert.equal(s.build.entryResolved, join(root, 'releases', '3.0.0', 'app.mjs'))
    assert.equal(s.build.node, process.version)
    assert.equal(s.build.signalPid, p.pid, 'the pid to signal is the anchor')
    const metrics = await body('/metrics')
    assert.match(metrics, new RegExp(`smooth_build_info\\{[^}]*version="3\\.0\\.0"[^}]*\\} 1`))
    const cli = await run(process.execPath, [dist('src/cli/smooth.js'), 'status', '--url', `${url}/debug/admin`, '--json'])
    assert.equal((JSON.parse(cli.stdout) as Status).build.version, '3.0.0')
    const ready = livePrimary(p)
    assert.equal(ready.version, '3.0.0')
    assert.equal(ready.signalPid, p.pid)

    await underLoad(async () => {
      // --exe onto v2, then a plain restart: back to the entry the server was started with (current -> v3).
      const exe = join(root, 'releases', '2.0.0', 'app.mjs')
      const gen = s.generation
      const r = await get(`${url}/debug/admin/restart?newExeFilePath=${encodeURIComponent(exe)}`)
      assert.equal(r.status, 202, r.body)
      await p.waitFor('the --exe generation', (l) => l.msg === 'server ready' && l.generation === gen + 1, 30_000)
      await p.waitFor('the old generation to shut down', (l) => l.msg === 'all servers shutdown' && l.generation === gen, 20_000)
      assert.equal(await body(), '2.0.0')
      const onExe = await status()
      assert.equal(onExe.build.entry, exe)
      assert.equal(onExe.build.startedWith, join(current, 'app.mjs'), '/status shows both')
      await restartBySignal(p)
      assert.equal(await body(), '3.0.0')
      assert.equal((await status()).build.entry, join(current, 'app.mjs'))

      // GoFrame's habit: the pid from /pid is a worker's; USR1 to it restarts the server.
      const worker = Number(await body('/pid'))
      const old = livePrimary(p).pid
      const at = p.logs.length
      process.kill(worker, 'SIGUSR1')
      await p.waitFor('the worker to forward USR1', (l) => l.msg === 'signal forwarded to the primary' && l.pid === worker, 10_000, at)
      await p.waitFor('the forwarded restart', (l) => l.msg === 'server ready' && l.pid !== old, 30_000, at)
      await p.waitFor('the old primary to shut down', (l) => l.msg === 'all servers shutdown' && l.pid === old, 30_000, at)
    })
    assert.ok(!p.logs.some((l) => /ENOENT|uv_cwd/.test(JSON.stringify(l))), 'no process started in a deleted directory')
  } finally {
    p.kill()
  }
})
