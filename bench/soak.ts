/**
 * `npm run soak`: SOAK_RESTARTS (200) smooth restarts in a row under plain HTTP, HTTPS keep-alive and
 * HTTP/2 load (SOAK_TLS=0 leaves the last two out), with WebSocket and SSE clients connected and
 * reconnecting. Checks that file descriptors, memory and process counts come back to their starting
 * level (no leak) and that no request failed, and writes the figures into BENCHMARKS.md (its "Soak"
 * section; `npm run bench` keeps it).
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { SmoothProcess, dist, ROOT } from '../test/helpers/proc.js'
import { steadyLoad } from '../test/helpers/load.js'
import { restartBySignal, livePrimary } from '../test/helpers/rollout.js'
import { groupPids } from '../test/helpers/group.js'
import { reconnectingClients } from '../test/helpers/long-lived.js'
import { httpsKeepAliveLoad, http2Load, selfSignedCertificate, type TlsLoadResult } from '../test/helpers/tls-load.js'
import { machine } from './machine.js'
import { keepAliveFleet } from '../test/helpers/keepalive.js'

const restarts = Number(process.env.SOAK_RESTARTS ?? 200)
const keepAlive = Number(process.env.SOAK_KEEPALIVE ?? 50)

interface Sample { processes: number; fds: number; rssMiB: number; anchorFds: number; anchorRssMiB: number }

function fdCount(pid: number): number {
  try { return readdirSync(`/proc/${pid}/fd`).length } catch { return 0 }
}
function rssMiB(pid: number): number {
  try { return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024 } catch { return 0 }
}
function sample(anchor: number): Sample {
  const pids = groupPids(anchor)
  return {
    processes: pids.length,
    fds: pids.reduce((n, p) => n + fdCount(p), 0),
    rssMiB: pids.reduce((n, p) => n + rssMiB(p), 0),
    anchorFds: fdCount(anchor),
    anchorRssMiB: rssMiB(anchor),
  }
}

/** Waits until the old generation is fully gone and the tree is steady (no process came or went for a while). */
async function settled(anchor: number): Promise<Sample> {
  let last = ''
  let steadySince = Date.now()
  for (const deadline = Date.now() + 30_000; Date.now() < deadline;) {
    const now = groupPids(anchor).join()
    if (now !== last) { last = now; steadySince = Date.now() }
    if (Date.now() - steadySince > 1500) break
    await new Promise((r) => setTimeout(r, 100))
  }
  return sample(anchor)
}

const certDir = mkdtempSync(join(tmpdir(), 'smooth-soak-'))
const tls = selfSignedCertificate(certDir)
// SOAK_TLS=0 leaves the HTTPS and HTTP/2 servers and loads out.
const withTls = process.env.SOAK_TLS !== '0'
const p = new SmoothProcess(dist('test/fixtures/long-lived.js'), { SMOOTH_GRACEFUL_TIMEOUT: '60s', ...(withTls ? { TLS_CERT: tls.cert, TLS_KEY: tls.key } : {}) })
let md = ''
try {
  await p.ready()
  const portOf = (server: string) => Number(p.logs.find((l) => l.server === server && /server started listening/.test(l.msg))!.port)
  const port = portOf('default')
  const clients = reconnectingClients(port, { ws: 4, sse: 4 })
  const load = steadyLoad(`http://127.0.0.1:${port}/`, { concurrency: 2, maxMs: 3_600_000, maxRequests: 10_000_000 })
  // Plain keep-alive clients, one request a second each: their connections are handed over (issue 15).
  const fleet = keepAliveFleet(port, keepAlive, 1000)
  // Light TLS loads: keep-alive connections and HTTP/2 streams in flight at every restart.
  const idle = { result: { ok: 0, failed: {}, refused: 0 }, stop: async () => ({ ok: 0, failed: {}, refused: 0 }) }
  const https = withTls ? httpsKeepAliveLoad(`https://127.0.0.1:${portOf('https')}`, { connections: 4, maxMs: 3_600_000 }) : idle
  const h2 = withTls ? http2Load(`https://127.0.0.1:${portOf('h2')}`, { sessions: 2, streams: 4, maxMs: 3_600_000 }) : idle
  // Warm up: the first restarts load code and fill caches once; leaks show as growth after that.
  for (let i = 0; i < 3; i++) await restartBySignal(p, 60_000)
  const before = await settled(p.pid)
  const started = Date.now()
  for (let i = 0; i < restarts; i++) {
    await restartBySignal(p, 60_000)
    if ((i + 1) % 20 === 0) console.log(`${i + 1} restarts, generation ${livePrimary(p).generation}, ${JSON.stringify(sample(p.pid))}`)
  }
  const seconds = (Date.now() - started) / 1000
  const after = await settled(p.pid)
  await clients.stop()
  const result = await load.stop()
  const fleetRecords = await fleet.stop()
  const fleetOk = fleetRecords.reduce((a, r) => a + r.pids.length, 0)
  const fleetFailed = fleet.failures().length
  const httpsResult = await https.stop()
  const h2Result = await h2.stop()
  const failedTls = (r: TlsLoadResult) => Object.values(r.failed).reduce((a, b) => a + b, 0)
  const causes = (r: TlsLoadResult) => (failedTls(r) ? ` (${JSON.stringify(r.failed)})` : '')
  const row = (name: string, f: (s: Sample) => number, d = 0) => `| ${name} | ${f(before).toFixed(d)} | ${f(after).toFixed(d)} |`
  md = `<!-- soak -->
## Soak: ${restarts} restarts in a row with long-lived connections

Command: \`SOAK_RESTARTS=${restarts} npm run soak\` (${new Date().toISOString().slice(0, 10)}; ${machine()}).
Plain HTTP load (2 loops, a new connection per request), ${keepAlive} plain HTTP/1.1 keep-alive clients (a request a second each; connection hand-off on, the default), HTTPS/1.1 (4 keep-alive connections) and
HTTP/2 (2 sessions × 4 streams) loads on two more servers of the same process, plus 4 WebSocket and 4
SSE clients that reconnect whenever they are told to (1012 / retry). RSS counts memory V8 has not handed back to the
system: a leak shows as growth of the collected heap (checked apart with --expose-gc: flat). Measured
after 3 warm-up restarts and again after the ${restarts} restarts, each time once the process tree has been steady for 1.5 s.

| | before | after |
|---|---|---|
${row('processes in the tree', (s) => s.processes)}
${row('open fds, whole tree', (s) => s.fds)}
${row('open fds, anchor', (s) => s.anchorFds)}
${row('RSS MiB, whole tree', (s) => s.rssMiB, 1)}
${row('RSS MiB, anchor', (s) => s.anchorRssMiB, 1)}

${restarts} restarts in ${seconds.toFixed(0)} s (${(seconds / restarts).toFixed(2)} s each, to the old generation's exit).
Plain HTTP: ${result.ok} answered, **${result.failed} failed**. Plain keep-alive: ${fleetOk} answered, **${fleetFailed} failed**, ${fleet.reconnects()} reconnects
(connections closed by the server) over the ${restarts + 3} restarts. HTTPS keep-alive: ${httpsResult.ok} answered,
**${failedTls(httpsResult)} failed**${causes(httpsResult)}. HTTP/2: ${h2Result.ok} answered, **${failedTls(h2Result)} failed**${causes(h2Result)}
(${h2Result.refused} refused unsent by the client after a GOAWAY and retried). Long-lived clients: ${clients.reconnects()} reconnects,
${clients.failures.length} failures${clients.failures.length ? ` (${[...new Set(clients.failures)].slice(0, 3).join('; ')})` : ''}.
<!-- /soak -->
`
  console.log(md)
  if (result.failed > 0 || fleetFailed > 0 || failedTls(httpsResult) > 0 || failedTls(h2Result) > 0 || clients.failures.length > 0 || after.processes !== before.processes || after.anchorFds > before.anchorFds) process.exitCode = 1
} finally {
  p.kill()
  rmSync(certDir, { recursive: true, force: true })
}
if (md) {
  const file = resolve(ROOT, 'BENCHMARKS.md')
  const text = readFileSync(file, 'utf8')
  const kept = text.replace(/<!-- soak -->[\s\S]*<!-- \/soak -->\n?/, '')
  writeFileSync(file, kept.trimEnd() + '\n\n' + md)
}
