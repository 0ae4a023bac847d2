import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect } from 'node:net'
import { stringify as toYaml } from 'yaml'
import { loadConfigFile, loadEnvSettings } from '../src/config/load.js'
import { resolveConfig } from '../src/config/resolve.js'
import { ConfigKeys, envName } from '../src/config/keys.js'
import { isSmoothError } from '../src/errors.js'
import { SmoothProcess, killAll, dist, isAlive } from './helpers/proc.js'
import { get } from './helpers/http.js'
import { writeRelease } from './helpers/release.js'
import { livePrimary, restartUnderLoad, noneFailed } from './helpers/rollout.js'
import { rng, pick, randomString, randomValue } from './helpers/random.js'

after(killAll)
const root = mkdtempSync(join(tmpdir(), 'smooth-fuzz-'))
after(() => rmSync(root, { recursive: true, force: true }))
const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 1_000_000)
const KEYS = Object.keys(ConfigKeys)

/** Runs `fn`; anything thrown must be a SmoothError with a code and a message (a clear error). */
function clearOrOk(what: string, fn: () => unknown): void {
  try {
    fn()
  } catch (err) {
    assert.ok(isSmoothError(err), `seed ${SEED}: ${what} threw a ${(err as Error)?.constructor?.name}: ${(err as Error)?.message}`)
    assert.ok(err.message.length > 0 && /^SMOOTH_[A-Z_]+$/.test(err.code))
  }
}

test(`random config files and environments: a SmoothError or a valid config, never a crash (seed ${SEED})`, () => {
  const r = rng(SEED)
  const file = join(root, 'smooth.yaml')
  for (let i = 0; i < 400; i++) {
    const settings: Record<string, unknown> = {}
    for (let k = Math.floor(r() * 5); k > 0; k--) settings[r() < 0.85 ? pick(r, KEYS) : randomString(r, 12)] = randomValue(r)
    if (r() < 0.3) settings.s2 = Object.fromEntries(Object.entries(settings).slice(0, 2))
    let text: string
    switch (Math.floor(r() * 5)) {
      case 0: text = randomString(r, 200); break // not YAML at all, most of the time
      case 1: text = JSON.stringify(randomValue(r)); break // some other document
      case 2: text = toYaml({ [pick(r, ['server', 'Server', 'servers'])]: settings }); break
      default: text = toYaml({ server: settings })
    }
    writeFileSync(file, text)
    clearOrOk(`config file ${JSON.stringify(text).slice(0, 300)}`, () => resolveConfig([{ name: 'default', settings: {} }], {}, loadConfigFile(file)))
  }
  for (let i = 0; i < 400; i++) {
    const env: Record<string, string> = {}
    for (let k = 1 + Math.floor(r() * 3); k > 0; k--) {
      const v = randomValue(r)
      env[envName(pick(r, KEYS))] = typeof v === 'string' ? v : JSON.stringify(v)
    }
    clearOrOk(`environment ${JSON.stringify(env).slice(0, 300)}`, () => {
      loadEnvSettings(env)
      resolveConfig([{ name: 'default', settings: { address: '127.0.0.1:0' } }], env, { base: {}, named: {} } as never)
    })
  }
})

test(`random admin requests: always a 2xx or a clear 4xx, never a 5xx or a crash (seed ${SEED})`, { timeout: 60_000 }, async () => {
  const r = rng(SEED + 1)
  const token = 'fuzz-token'
  const p = new SmoothProcess(dist('test/fixtures/app.js'), { GRACEFUL: '1', SMOOTH_ADMIN_TOKEN: token })
  try {
    const port = await p.ready()
    const primary = livePrimary(p).pid
    const seen: Record<number, number> = {}
    for (let i = 0; i < 300; i++) {
      const auth = pick(r, ['good', 'bad', 'none', 'cookie', 'garbage'])
      // With the right token only what cannot start a rollout: status, and restarts to random paths.
      const command = auth === 'good' || auth === 'cookie' ? pick(r, ['status', 'restart', '', 'login', 'logout', randomString(r, 8)]) : pick(r, ['status', 'restart', 'reload', 'shutdown', 'login', '', randomString(r, 8)])
      const params = new URLSearchParams()
      for (let k = Math.floor(r() * 4); k > 0; k--) params.append(pick(r, ['newExeFilePath', 'wait', 'newExeFilePath', randomString(r, 6)]), randomString(r, 60) || 'x')
      if (command === 'restart' && (auth === 'good' || auth === 'cookie') && !params.get('newExeFilePath')) params.set('newExeFilePath', randomString(r, 30) || '/nope')
      const headers: Record<string, string> = {}
      if (auth === 'good') headers.authorization = `Bearer ${token}`
      if (auth === 'bad') headers.authorization = `Bearer ${randomString(r, 70).replace(/[^\x21-\x7e]/g, 'x')}`
      if (auth === 'cookie') Object.assign(headers, { cookie: `smooth_admin=${token}`, origin: `http://127.0.0.1:${port}` })
      if (auth === 'garbage') headers.cookie = randomString(r, 50).replace(/[^\x20-\x7e]/g, 'x')
      const method = pick(r, ['GET', 'POST', 'PUT', 'DELETE'])
      if (method === 'POST' && r() < 0.5) headers['content-type'] = pick(r, ['application/json', 'text/plain', 'application/x-www-form-urlencoded'])
      const url = `http://127.0.0.1:${port}/debug/admin/${encodeURIComponent(command)}?${params}`
      const res = await get(url, { method, headers, body: method === 'POST' ? randomString(r, 80) : undefined })
      seen[res.status] = (seen[res.status] ?? 0) + 1
      assert.ok(res.status < 500, `seed ${SEED}: ${method} ${url} ${JSON.stringify(headers)} -> ${res.status} ${res.body.slice(0, 300)}`)
      if (res.status >= 400 && res.headers['content-type']?.toString().startsWith('application/json')) {
        assert.ok(JSON.parse(res.body).error, `a 4xx says why: ${res.body}`)
      }
    }
    assert.ok(isAlive(primary), 'the primary is still there')
    assert.equal(livePrimary(p).pid, primary, 'no random request restarted the server')
    assert.equal((await get(`http://127.0.0.1:${port}/`)).status, 200)
    assert.ok(Object.keys(seen).length >= 3, `too little variety: ${JSON.stringify(seen)}`)
  } finally {
    p.kill()
  }
})

test(`random bytes and random frames on the status channel: refused or rolled back, the old generation serves on (seed ${SEED})`, { timeout: 90_000 }, async () => {
  const r = rng(SEED + 2)
  const p = new SmoothProcess(writeRelease(join(root, 'channel'), 'A', 'slow-start'), {})
  try {
    const port = await p.ready()
    const { old, load, from, successor, statusChannel } = await restartUnderLoad(p, port)
    const [host, chPort] = statusChannel.split(':')
    /** Writes `data` and waits for the old primary to hang up (bounded: it must, on all of this). */
    const send = (data: Array<string | Buffer>, what: string): Promise<void> => new Promise((resolve, reject) => {
      const s = connect({ host, port: Number(chPort) })
      const timer = setTimeout(() => { s.destroy(); reject(new Error(`seed ${SEED}: the status channel did not hang up on ${what}`)) }, 5_000)
      s.on('error', () => {})
      s.on('close', () => { clearTimeout(timer); resolve() })
      s.on('connect', () => { for (const d of data) s.write(d) })
      s.resume()
    })
    // Before the token: garbage, huge lines, JSON of the wrong shape, hellos with wrong token types.
    const garbage: Array<string | Buffer> = [
      Buffer.from(Array.from({ length: 300 }, () => Math.floor(r() * 256))),
      'x'.repeat(20_000),
      '{"t":"hello"\n',
      JSON.stringify({ t: 'hello', token: 12345 }) + '\n',
      JSON.stringify({ t: 'hello', token: { $ne: '' } }) + '\n',
      JSON.stringify(randomValue(r)) + '\n',
      JSON.stringify({ t: 'workerReady', workerPid: 1 }) + '\n',
    ]
    await Promise.all(garbage.map((g) => send([g], `garbage ${JSON.stringify(String(g).slice(0, 40))}`)))
    // With the real token (read from the successor's environment, as only the same user can): random
    // frames. The old primary now takes us for its successor, so the real one is refused and the
    // restart must fail cleanly — without the old primary crashing or dropping a request.
    const env = readFileSync(`/proc/${successor}/environ`, 'utf8').split('\0')
    const token = env.find((e) => e.startsWith('SMOOTH_STATUS_TOKEN='))!.split('=')[1]!
    const frames = [JSON.stringify({ t: 'hello', token, pid: 1, generation: 2 }) + '\n']
    for (let i = 0; i < 50; i++) {
      const frame = r() < 0.5
        ? { t: pick(r, ['workerDied', 'metricsAsk', 'metricsOwn', 'hello', 'nope', 'welcome']), id: randomValue(r), workerPid: randomValue(r), metrics: randomValue(r), code: randomValue(r) }
        : randomValue(r)
      frames.push(JSON.stringify(frame) + '\n')
    }
    frames.push(JSON.stringify({ t: 'failed', code: 'FUZZ', message: 'random frames' }) + '\n')
    // A bad frame ends the session at once; 'failed' ends the restart, and the session with it.
    await send(frames, 'authenticated random frames')
    const failed = await p.waitFor('the restart to fail or finish', (l) => /^server restarts failed|^server restarted/.test(l.msg) && l.pid === old, 60_000, from)
    assert.match(failed.msg, /^server restarts failed/)
    assert.ok(p.logs.slice(from).some((l) => l.msg === 'status channel: connection refused'), 'the garbage was refused and logged')
    assert.ok(isAlive(old), 'the old primary serves on')
    assert.equal((await get(`http://127.0.0.1:${port}/`)).body, 'A')
    await noneFailed(load)
  } finally {
    p.kill()
  }
})
