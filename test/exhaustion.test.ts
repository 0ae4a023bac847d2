import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { connect, type Socket } from 'node:net'
import autocannon from 'autocannon'
import { SmoothProcess, dist, killAll, until, isAlive } from './helpers/proc.js'
import { get } from './helpers/http.js'
import { parseExposition, total } from './helpers/exposition.js'

after(killAll)

test('ulimit -n 256 and 600 connections: no worker dies; the service answers normally once they close', { timeout: 60_000 }, async (t) => {
  const p = new SmoothProcess(dist('test/fixtures/app.js'), { WORKERS: '2' }, [], ['/bin/sh', '-c', 'ulimit -n 256 && exec "$@"', 'sh'])
  const sockets: Socket[] = []
  try {
    const port = await p.ready()
    const workers = p.workerPids()
    assert.equal(workers.length, 2)
    let closedByServer = 0
    await Promise.all(Array.from({ length: 600 }, () => new Promise<void>((resolve) => {
      const s = connect({ port, host: '127.0.0.1' })
      sockets.push(s)
      s.once('connect', () => resolve())
      s.once('error', () => resolve())
      s.once('close', () => { closedByServer++; resolve() })
    })))
    // A request on every connection still open: each worker runs out of descriptors with ~250 of them.
    for (const s of sockets) if (!s.destroyed) s.write('GET /slow?ms=3000 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')
    await p.waitFor('a worker to report it is out of file descriptors', (l) => l.msg.startsWith('out of file descriptors'), 20_000)
    // under-pressure samples memory every second: give it a few samples while exhausted.
    await new Promise((r) => setTimeout(r, 2500))
    assert.ok(!p.logs.some((l) => l.msg === 'worker died'), `a worker died:\n${p.tail()}`)
    for (const pid of workers) assert.ok(isAlive(pid), `worker ${pid} is alive`)
    t.diagnostic(`${closedByServer} of 600 connections were closed by the server side while exhausted`)
    for (const s of sockets) s.destroy()
    await until('the service to answer normally again', async () => (await get(`http://127.0.0.1:${port}/`).catch(() => undefined))?.status === 200, 15_000)
    for (let i = 0; i < 20; i++) assert.equal((await get(`http://127.0.0.1:${port}/`)).status, 200)
    const m = parseExposition((await get(`http://127.0.0.1:${port}/metrics`)).body)
    assert.ok(total(m, 'smooth_worker_fd_exhausted_total') > 0, 'counted')
    assert.ok(!p.logs.some((l) => l.msg === 'worker died'))
    assert.deepEqual(p.workerPids(), workers, 'the same two workers')
  } finally {
    for (const s of sockets) s.destroy()
    p.kill()
  }
})

test('30,000 404s and malformed requests grow the log by less than 100 KB; they are counted instead', { timeout: 60_000 }, async (t) => {
  const p = new SmoothProcess(dist('test/fixtures/app.js'), { WORKERS: '2' })
  try {
    const port = await p.ready()
    const before = p.stdout.length + p.stderr.length
    const notFound = await autocannon({ url: `http://127.0.0.1:${port}/nope`, connections: 20, amount: 30_000 })
    const badJson = await autocannon({ url: `http://127.0.0.1:${port}/`, connections: 10, amount: 3_000, method: 'POST', headers: { 'content-type': 'application/json' }, body: '{not json' })
    const result = { errors: notFound.errors + badJson.errors, requests: { total: notFound.requests.total + badJson.requests.total } }
    assert.equal(result.errors, 0)
    // Malformed at the HTTP level: never reach a route.
    for (let i = 0; i < 200; i++) {
      await new Promise<void>((resolve) => {
        const s = connect({ port, host: '127.0.0.1' }, () => s.end('GET / HTTP/1.1\r\nBad Header Line\r\n\r\n'))
        s.on('error', () => resolve()).on('close', () => resolve()).resume()
      })
    }
    const m = parseExposition((await get(`http://127.0.0.1:${port}/metrics`)).body)
    const grown = p.stdout.length + p.stderr.length - before
    const counted = (kind: string) => total(m, 'smooth_client_errors_total', { kind })
    t.diagnostic(`log grew by ${grown} bytes for ${notFound.requests.total} 404s, ${badJson.requests.total} bad JSON bodies, 200 malformed; counted ${counted('not_found')}, ${counted('bad_request')}, ${counted('malformed')}`)
    assert.ok(grown < 100_000, `the log grew by ${grown} bytes`)
    assert.ok(total(m, 'smooth_client_errors_total', { kind: 'not_found' }) >= 30_000, 'the 404s are counted')
    assert.ok(total(m, 'smooth_client_errors_total', { kind: 'bad_request' }) >= 1_000, 'the bad JSON bodies are counted')
    assert.ok(total(m, 'smooth_client_errors_total', { kind: 'malformed' }) >= 200, 'the malformed requests are counted')
  } finally {
    p.kill()
  }
})
