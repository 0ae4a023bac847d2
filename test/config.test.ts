import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createServer, type Server, type AddressInfo } from 'node:net'
import { SmoothProcess, dist, killAll, isAlive } from './helpers/proc.js'
import { resolveConfig } from '../src/config/resolve.js'
import { loadConfigFile } from '../src/config/load.js'
import { parseAddress } from '../src/config/address.js'
import { codeOf } from './helpers/codes.js'

after(killAll)

const dir = mkdtempSync(join(tmpdir(), 'smooth-config-'))
after(() => rmSync(dir, { recursive: true, force: true }))
function file(name: string, text: string): string {
  const p = join(dir, name)
  writeFileSync(p, text)
  return p
}
const code = (settings = {}) => [{ name: 'default', settings }]

test('precedence: defaults < file < env < code', () => {
  const f = loadConfigFile(file('p.yaml', 'server:\n  address: ":1111"\n  workers: 3\n  gracefulTimeout: 5s\n  idleTimeout: 7\n'))
  const fromFile = resolveConfig(code(), {}, f)
  assert.equal(fromFile.process.workers, 3)
  assert.equal(fromFile.process.gracefulTimeoutMs, 5000)
  assert.equal(fromFile.servers[0]!.idleTimeoutMs, 7000)
  assert.equal(fromFile.listeners[0]!.port, 1111)
  assert.equal(fromFile.process.graceful, false, 'graceful is off by default')
  const fromEnv = resolveConfig(code(), { SMOOTH_WORKERS: '4', SMOOTH_ADDRESS: '127.0.0.1:2222' }, f)
  assert.equal(fromEnv.process.workers, 4)
  assert.equal(fromEnv.listeners[0]!.host, '127.0.0.1')
  const fromCode = resolveConfig(code({ workers: 5, address: ':3333' }), { SMOOTH_WORKERS: '4' }, f)
  assert.equal(fromCode.process.workers, 5)
  assert.equal(fromCode.listeners[0]!.port, 3333)
})

test('named server sections, HTTPS addresses and GoFrame address forms', () => {
  const f = loadConfigFile(file('n.yaml', 'server:\n  graceful: true\n  s2:\n    address: ":8300,:8400"\n'))
  const cfg = resolveConfig([{ name: 's1', settings: { address: [':8100', ':8200'] } }, { name: 's2', settings: {} }], {}, f)
  assert.deepEqual(cfg.listeners.map((l) => [l.server, l.port, l.index]), [['s1', 8100, 0], ['s1', 8200, 1], ['s2', 8300, 2], ['s2', 8400, 3]])
  assert.equal(cfg.process.graceful, true)
  const tls = resolveConfig(code({ address: ':8200', httpsCertPath: 'c', httpsKeyPath: 'k' }), {}, { base: {}, named: {} })
  assert.equal(tls.listeners[0]!.protocol, 'https', 'with a certificate and no httpsAddr, address serves HTTPS')
  assert.deepEqual(parseAddress('[::1]:80'), { text: '[::1]:80', host: '::1', port: 80 })
  assert.deepEqual(parseAddress('8199'), { text: '8199', port: 8199 })
})

test('every listener has its own inheritance key, also when several servers take port 0', () => {
  // Two HTTPS servers on 127.0.0.1:0 once shared a key, so a restart handed both the same socket.
  const tls = { address: '127.0.0.1:0', httpsCertPath: 'c', httpsKeyPath: 'k' }
  const cfg = resolveConfig([{ name: 'plain', settings: { address: '127.0.0.1:0' } }, { name: 'https', settings: tls }, { name: 'h2', settings: { ...tls, http2: true } }], {}, { base: {}, named: {} })
  assert.equal(new Set(cfg.listeners.map((l) => l.key)).size, 3)
  const fixed = resolveConfig(code({ address: '127.0.0.1:8100' }), {}, { base: {}, named: {} })
  assert.equal(fixed.listeners[0]!.key, 'http://127.0.0.1:8100', 'a fixed port keeps its key, so a renamed server still inherits it')
})

test('under-pressure limits and http2 are per server; http2 needs TLS on every listener', () => {
  const f = loadConfigFile(file('up.yaml', [
    'server:', '  underPressure: { maxEventLoopDelay: 100 }',
    '  s2:', '    underPressure: { maxEventLoopUtilization: 0.9, retryAfter: 3, sampleInterval: 200 }', '',
  ].join('\n')))
  const cfg = resolveConfig([{ name: 's1', settings: { address: ':1' } }, { name: 's2', settings: { address: ':2' } }], {}, f)
  assert.deepEqual(cfg.servers.map((s) => s.underPressure), [{ maxEventLoopDelay: 100 }, { maxEventLoopUtilization: 0.9, retryAfter: 3, sampleInterval: 200 }])
  assert.equal(codeOf(() => resolveConfig(code({ address: ':1', underPressure: { maxEventLoopDelay: -1 } }), {}, { base: {}, named: {} })), 'SMOOTH_CONFIG_INVALID')
  assert.equal(codeOf(() => resolveConfig(code({ address: ':1', underPressure: { maxQueue: 5 } }), {}, { base: {}, named: {} })), 'SMOOTH_CONFIG_UNKNOWN_KEY')
  const h2 = resolveConfig(code({ address: ':1', httpsCertPath: 'c', httpsKeyPath: 'k', http2: true }), {}, { base: {}, named: {} })
  assert.equal(h2.servers[0]!.http2, true)
  assert.equal(codeOf(() => resolveConfig(code({ address: ':1', http2: true }), {}, { base: {}, named: {} })), 'SMOOTH_CONFIG_INVALID')
})

test('bad input is a named error: unknown key, wrong type, bad duration, bad address, unknown section', () => {
  assert.equal(codeOf(() => loadConfigFile(file('u.yaml', 'server:\n  adress: ":80"\n'))), 'SMOOTH_CONFIG_UNKNOWN_KEY')
  assert.equal(codeOf(() => loadConfigFile(file('t.yaml', 'server:\n  workers: many\n'))), 'SMOOTH_CONFIG_INVALID')
  assert.equal(codeOf(() => loadConfigFile(file('d.yaml', 'server:\n  gracefulTimeout: soon\n'))), 'SMOOTH_CONFIG_INVALID')
  assert.equal(codeOf(() => loadConfigFile(file('top.yaml', 'servr:\n  address: ":80"\n'))), 'SMOOTH_CONFIG_UNKNOWN_KEY')
  assert.equal(codeOf(() => loadConfigFile(file('bad.yaml', 'server: [\n'))), 'SMOOTH_CONFIG_FILE')
  assert.equal(codeOf(() => loadConfigFile(join(dir, 'missing.yaml'))), 'SMOOTH_CONFIG_FILE')
  assert.equal(codeOf(() => resolveConfig(code({ address: 'x:y' }), {}, { base: {}, named: {} })), 'SMOOTH_ADDRESS_INVALID')
  assert.equal(codeOf(() => resolveConfig(code({ address: ':1' }), { SMOOTH_WORKERS: 'lots' }, { base: {}, named: {} })), 'SMOOTH_CONFIG_INVALID')
  assert.equal(codeOf(() => resolveConfig(code(), {}, loadConfigFile(file('s.yaml', 'server:\n  address: ":1"\n  sX:\n    address: ":2"\n')))), 'SMOOTH_CONFIG_UNKNOWN_KEY')
  assert.equal(codeOf(() => resolveConfig(code({ address: ':1', bogus: 1 } as object), {}, { base: {}, named: {} })), 'SMOOTH_CONFIG_UNKNOWN_KEY')
  assert.equal(codeOf(() => resolveConfig(code({ httpsAddr: ':1' }), {}, { base: {}, named: {} })), 'SMOOTH_CONFIG_INVALID')
  assert.equal(codeOf(() => resolveConfig(code(), {}, { base: {}, named: {} })), 'SMOOTH_NO_ADDRESS')
})

async function failsToStart(env: Record<string, string>, pattern: RegExp): Promise<void> {
  const p = new SmoothProcess(dist('test/fixtures/app.js'), env)
  try {
    const exit = await p.waitExit(15_000)
    assert.equal(exit.code, 1, `exit code (stderr: ${p.stderr})`)
    assert.match(p.stderr, pattern)
    assert.equal(p.workerPids().length, 0, 'no worker was started')
    assert.ok(!p.logs.some((l) => l.msg === 'server ready'))
    assert.ok(p.allPids().every((pid) => !isAlive(pid)))
  } finally {
    p.kill()
  }
}

test('a real start with an unknown config key exits 1 naming the key and the file', async () => {
  const path = file('app.yaml', 'server:\n  gracefull: true\n')
  await failsToStart({ SMOOTH_CONFIG: path }, new RegExp(`SMOOTH_CONFIG_UNKNOWN_KEY.*server\\.gracefull.*${path.replace(/\./g, '\\.')}`))
})

test('a real start with a wrongly typed environment override exits 1 naming the variable', async () => {
  await failsToStart({ SMOOTH_GRACEFUL_TIMEOUT: 'later' }, /SMOOTH_CONFIG_INVALID.*SMOOTH_GRACEFUL_TIMEOUT/)
})

test('a port in use exits 1 naming the address, with nothing half-started', async () => {
  const blocker: Server = await new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => resolve(s))
  })
  const port = (blocker.address() as AddressInfo).port
  try {
    await failsToStart({ ADDRESS: `127.0.0.1:${port}` }, new RegExp(`SMOOTH_LISTEN_FAILED.*127\\.0\\.0\\.1:${port}.*address already in use`))
  } finally {
    blocker.close()
  }
})

test('messages that say what to do, each with its code: duration forms, unknown SMOOTH_* variable, pid-file directory, graceful off', async () => {
  const { writePidFile } = await import('../src/primary/pidfile.js')
  const { SmoothError: Err } = await import('../src/errors.js')
  assert.equal(codeOf(() => loadConfigFile(file('sec.yaml', 'server:\n  gracefulTimeout: 30 sec\n'))), 'SMOOTH_CONFIG_INVALID')
  assert.equal(codeOf(() => resolveConfig(code({ address: ':1' }), { SMOOTH_GRACEFULL: 'true' }, { base: {}, named: {} })), 'SMOOTH_CONFIG_UNKNOWN_KEY')
  // Smooth's own variables are not typos.
  assert.equal(codeOf(() => resolveConfig(code({ address: ':1' }), { SMOOTH_CONFIG: 'x', SMOOTH_ANCHOR: '0', SMOOTH_ENTRY: '/a.js', SMOOTH_GRACEFUL: 'true' }, { base: {}, named: {} })), undefined)
  assert.equal(codeOf(() => writePidFile(join(dir, 'no-such-dir', 'smooth.pid'))), 'SMOOTH_CONFIG_INVALID')
  assert.equal(new Err('SMOOTH_GRACEFUL_DISABLED').code, 'SMOOTH_GRACEFUL_DISABLED')
})

test('worker limits: workerTimeout defaults to 30 s (0 = off); maxWorkerMemory takes bytes or a size, like PM2', () => {
  const none = { base: { address: ':0' }, named: {} }
  const d = resolveConfig(code(), {}, none)
  assert.equal(d.process.workerTimeoutMs, 30_000)
  assert.equal(d.process.maxWorkerMemory, 0)
  assert.equal(d.process.maxWorkerRequests, 0)
  assert.equal(d.process.maxWorkerAgeMs, 0)
  const f = loadConfigFile(file('limits.yaml', 'server:\n  address: ":0"\n  workerTimeout: 0\n  maxWorkerMemory: 512MB\n  maxWorkerRequests: 10000\n  maxWorkerAge: 1h\n'))
  const c = resolveConfig(code(), {}, f)
  assert.equal(c.process.workerTimeoutMs, 0)
  assert.equal(c.process.maxWorkerMemory, 512 * 1024 * 1024)
  assert.equal(c.process.maxWorkerRequests, 10_000)
  assert.equal(c.process.maxWorkerAgeMs, 3_600_000)
  for (const [text, bytes] of [['1G', 1024 ** 3], ['300M', 300 * 1024 ** 2], ['64kb', 65_536], ['1.5GiB', 1.5 * 1024 ** 3], ['1000', 1000]] as const) {
    assert.equal(resolveConfig(code(), { SMOOTH_MAX_WORKER_MEMORY: text }, none).process.maxWorkerMemory, bytes, text)
  }
  assert.equal(resolveConfig(code({ maxWorkerMemory: 1e6 }), {}, none).process.maxWorkerMemory, 1e6)
  assert.equal(codeOf(() => resolveConfig(code(), { SMOOTH_MAX_WORKER_MEMORY: 'lots' }, none)), 'SMOOTH_CONFIG_INVALID')
  assert.equal(codeOf(() => resolveConfig(code({ maxWorkerRequests: -1 }), {}, none)), 'SMOOTH_CONFIG_INVALID')
  assert.equal(codeOf(() => resolveConfig(code({ workerTimeout: 'soon' }), {}, none)), 'SMOOTH_CONFIG_INVALID')
})
