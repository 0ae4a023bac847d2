import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { SmoothProcess, killAll, dist } from './helpers/proc.js'
import { childPids } from './helpers/group.js'
import { get } from './helpers/http.js'
import { steadyLoad } from './helpers/load.js'
import { reloadBySignal, restartBySignal } from './helpers/rollout.js'
import { parseExposition, total } from './helpers/exposition.js'
import { openWs, openSse, reconnectingClients } from './helpers/long-lived.js'

after(killAll)

const metric = async (port: number, name: string): Promise<number> => total(parseExposition((await get(`http://127.0.0.1:${port}/metrics`)).body), name)

test('a reload tells WebSocket clients 1012 (Service Restart) and SSE clients to retry; nothing is forced', { timeout: 60_000 }, async () => {
  // A long graceful timeout: a drain that waited for these connections would outlast the reload's wait.
  const p = new SmoothProcess(dist('test/fixtures/long-lived.js'), { SMOOTH_GRACEFUL_TIMEOUT: '120s' })
  try {
    const port = await p.ready()
    const sockets = await Promise.all([1, 2, 3, 4].map(() => openWs(`ws://127.0.0.1:${port}/ws`)))
    const streams = await Promise.all([1, 2, 3, 4].map(() => openSse(`http://127.0.0.1:${port}/sse`)))
    const oldPids = new Set([...sockets.map((s) => s.pid), ...streams.map((s) => s.pid)])
    await reloadBySignal(p)
    for (const s of sockets) assert.deepEqual(await s.closed, { code: 1012, reason: 'Service Restart' })
    for (const s of streams) {
      const { text, clean } = await s.ended
      assert.ok(clean, 'the SSE stream ended cleanly')
      assert.match(text, /\nretry: \d+\n\n$/, 'the last thing an SSE client hears is when to come back')
    }
    // Clients that reconnect reach the new workers.
    const again = await openWs(`ws://127.0.0.1:${port}/ws`)
    assert.ok(!oldPids.has(again.pid), `reconnected to old worker ${again.pid}`)
    again.ws.close()
    const sse = await openSse(`http://127.0.0.1:${port}/sse`)
    assert.ok(!oldPids.has(sse.pid))
    sse.abort()
    assert.equal(await metric(port, 'smooth_drains_forced_total'), 0)
  } finally {
    p.kill()
  }
})

test('a connection still open at the graceful timeout is closed, counted and logged', { timeout: 60_000 }, async () => {
  const p = new SmoothProcess(dist('test/fixtures/long-lived.js'), { SMOOTH_GRACEFUL_TIMEOUT: '1s' })
  try {
    const port = await p.ready()
    // A WebSocket client that never answers the close frame (a raw socket after the upgrade).
    const raw = connect({ host: '127.0.0.1', port })
    raw.on('error', () => {})
    const upgraded = new Promise<void>((resolve) => raw.once('data', (d) => { if (d.toString().startsWith('HTTP/1.1 101')) resolve() }))
    raw.write('GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n')
    await upgraded
    const closed = new Promise<void>((r) => raw.once('close', () => r()))
    const from = p.logs.length
    await reloadBySignal(p)
    const forced = await p.waitFor('the forced drain to be logged', (l) => l.msg === 'drain timed out: connections forced closed', 10_000, from)
    assert.equal(forced.forced, 1)
    await closed
    assert.equal(await metric(port, 'smooth_drains_forced_total'), 1)
  } finally {
    p.kill()
  }
})

test('restarts in a row with WebSocket and SSE clients reconnecting: never more than two generations, no failed request', { timeout: 120_000 }, async () => {
  const p = new SmoothProcess(dist('test/fixtures/long-lived.js'), { SMOOTH_GRACEFUL_TIMEOUT: '120s' })
  try {
    const port = await p.ready()
    const clients = reconnectingClients(port, { ws: 3, sse: 3 })
    const load = steadyLoad(`http://127.0.0.1:${port}/`, { concurrency: 2, maxMs: 100_000 })
    let maxGenerations = 0
    const sampler = setInterval(() => { maxGenerations = Math.max(maxGenerations, childPids(p.pid).length) }, 25)
    try {
      for (let i = 0; i < 5; i++) await restartBySignal(p)
    } finally {
      clearInterval(sampler)
      await clients.stop()
    }
    const result = await load.stop()
    assert.deepEqual(clients.failures, [])
    assert.equal(result.failed, 0, `failed requests: ${result.errors.join('; ')}`)
    assert.ok(clients.reconnects() >= 5 * 6, `only ${clients.reconnects()} reconnects over 5 restarts with 6 clients`)
    assert.ok(maxGenerations <= 2, `${maxGenerations} primaries at once`)
    assert.equal(maxGenerations, 2, 'the sampler never saw a restart overlap (it cannot have looked)')
  } finally {
    p.kill()
  }
})
