import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { availableParallelism } from 'node:os'
import { Agent } from 'node:http'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { SmoothProcess, dist, isAlive, until, killAll, ROOT } from './helpers/proc.js'
import { loadedModules } from './helpers/module-probe.js'
import { get, refused, startRequest } from './helpers/http.js'

after(killAll)

const demo = (env: Record<string, string> = {}) =>
  new SmoothProcess(dist('examples/demo.js'), { HOST: '127.0.0.1', PORT: '0', ...env })

test('the demo serves /, /pid and /sleep with one worker per core; /pid answers from several workers; its anchor loads only its own code', async () => {
  // A module probe in every process of the tree: what each loaded is read once they have exited.
  const dir = mkdtempSync(join(tmpdir(), 'smooth-modules-'))
  const p = demo({ MODULE_PROBE_DIR: dir, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import ${pathToFileURL(dist('test/helpers/module-probe.js')).href}` })
  try {
    const port = await p.ready()
    assert.equal(p.workerPids().length, availableParallelism(), 'one worker per core')
    assert.equal((await get(`http://127.0.0.1:${port}/`)).body, 'Hello!\n')
    const pids = new Set<string>()
    for (let i = 0; i < 40 && pids.size < 2; i++) pids.add((await get(`http://127.0.0.1:${port}/pid`)).body.trim())
    assert.ok(pids.size >= 2, `/pid answered from ${[...pids].join(', ')} only`)
    for (const pid of pids) assert.ok(p.workerPids().includes(Number(pid)), `${pid} is a worker`)
    const sleep = await get(`http://127.0.0.1:${port}/sleep?ms=50`)
    assert.equal(sleep.status, 200)
    const [a, b] = sleep.body.trim().split('\n')
    assert.equal(a, b, '/sleep writes the same pid twice')
    assert.ok(p.logs.some((l) => l.msg === `http server started listening on [127.0.0.1:${port}]`))

    // The anchor loads no Fastify, under-pressure, prom-client, pino, ajv or yaml, and no other role's code.
    p.signal('SIGTERM')
    assert.equal((await p.waitExit(20_000)).code, 0)
    const anchor = loadedModules(dir, p.pid, ROOT)
    assert.ok(loadedModules(dir, p.workerPids()[0]!, ROOT).some((m) => m.includes('node_modules/fastify/')), 'the probe sees what a worker loads (Fastify)')
    assert.deepEqual(anchor.filter((m) => /node_modules\/(fastify|@fastify|prom-client|pino|ajv|yaml)\//.test(m)), [], 'libraries the anchor loaded')
    assert.deepEqual(anchor.filter((m) => /^dist\/src\/(worker\/(?!factory)|admin|metrics|config\/(load|resolve|schema)|log\.js|primary\/primary\.js)/.test(m)), [], 'other roles\' code the anchor loaded')
    assert.ok(anchor.length <= 20, `the anchor loaded ${anchor.length} modules: ${anchor.join(', ')}`)
  } finally {
    p.kill()
    rmSync(dir, { recursive: true, force: true })
  }
})

async function gracefulStop(how: 'SIGTERM' | 'group SIGINT') {
  const p = demo({ WORKERS: '2' })
  try {
    const port = await p.ready()
    const base = `http://127.0.0.1:${port}`
    // A keep-alive connection left idle, which the drain must close cleanly.
    const agent = new Agent({ keepAlive: true, maxSockets: 1 })
    assert.equal((await get(`${base}/`, { agent })).status, 200)
    const idleSocketClosed = new Promise<boolean>((resolve) => {
      const sockets = Object.values(agent.freeSockets).flat()
      assert.equal(sockets.length, 1, 'one idle keep-alive socket')
      sockets[0]!.once('close', (hadError) => resolve(!hadError))
    })
    const inFlight = startRequest(`${base}/sleep?ms=3000`)
    await inFlight.firstChunk
    const pids = p.allPids()
    if (how === 'SIGTERM') p.signal('SIGTERM')
    else p.signalGroup('SIGINT')
    await p.waitForMsg('server shutting down', 5000)
    await until('the listener to refuse connections', () => refused(port), 5000)
    const reply = await inFlight.done
    assert.equal(reply.status, 200)
    const [first, second] = reply.body.trim().split('\n')
    assert.equal(first, second, 'the in-flight request completed on the same worker')
    assert.ok(await idleSocketClosed, 'the idle keep-alive connection was closed cleanly')
    const exit = await p.waitExit(15_000)
    assert.deepEqual(exit, { code: 0, signal: null })
    assert.ok(p.logs.some((l) => l.msg === 'all servers shutdown'))
    await until('every process of the tree to be gone', () => pids.every((pid) => !isAlive(pid)), 5000)
    agent.destroy()
  } finally {
    p.kill()
  }
}

test('SIGTERM: the in-flight request completes, then the listener refuses, exit 0, no process left', () => gracefulStop('SIGTERM'))

test('SIGINT to the whole process group (Ctrl-C) behaves the same: workers are not killed mid-request', () => gracefulStop('group SIGINT'))
