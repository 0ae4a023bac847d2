/**
 * Rollouts under HTTPS keep-alive and HTTP/2 load: errors per rollout and p99 latency in steady state
 * and during rollouts, for Smooth reload and restart and for PM2 `pm2 reload` serving the same route
 * over the same protocol (plain Fastify with its own TLS). The load runs in this process: undici (50
 * keep-alive HTTPS connections) or Node's HTTP/2 client (20 sessions x 10 streams), see
 * test/helpers/tls-load.ts. (h2load cannot measure this: it does not reconnect after a GOAWAY, and
 * counts the request it had not sent yet as failed.)
 */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { SmoothProcess, dist, ROOT } from '../test/helpers/proc.js'
import { httpsKeepAliveLoad, http2Load, selfSignedCertificate, type TlsLoad } from '../test/helpers/tls-load.js'
import { freePort } from '../test/helpers/ports.js'
import { rolloutBySignal } from '../test/helpers/rollout.js'
import { p99 } from './rollout.js'

const run = promisify(execFile)

export type TlsProtocol = 'https' | 'h2'

export interface TlsRolloutRow {
  system: string
  protocol: TlsProtocol
  rollouts: number
  requests: number
  /** Failed requests (errors, resets, refused by the server, non-2xx) over the run. */
  errors: number
  /** HTTP/2: streams the client refused unsent after reading a GOAWAY, retried (not errors). */
  retried: number
  steadyP99: number
  rolloutP99: number
}

interface Sample { at: number; ms: number }

function startLoad(protocol: TlsProtocol, port: number, maxMs: number, samples: Sample[]): TlsLoad {
  const onResponse = (ms: number) => samples.push({ at: Date.now(), ms })
  const origin = `https://127.0.0.1:${port}`
  return protocol === 'https'
    ? httpsKeepAliveLoad(origin, { connections: 50, maxMs, onResponse })
    : http2Load(origin, { sessions: 20, streams: 10, maxMs, onResponse })
}

/** The load for `seconds`; `count` rollouts one second apart after a steady first third. */
async function measure(system: string, protocol: TlsProtocol, port: number, seconds: number, count: number, rollout: () => Promise<void>): Promise<TlsRolloutRow> {
  const samples: Sample[] = []
  const windows: Array<[number, number]> = []
  const start = Date.now()
  const load = startLoad(protocol, port, seconds * 1000 + 60_000, samples)
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
  await sleep((seconds * 1000) / 3)
  for (let i = 0; i < count; i++) {
    const t0 = Date.now()
    await rollout()
    windows.push([t0, Date.now()])
    await sleep(1000)
  }
  await sleep(Math.max(0, start + seconds * 1000 - Date.now()))
  const r = await load.stop()
  const inWindow = (s: Sample) => windows.some(([a, b]) => s.at >= a && s.at <= b + 200)
  return {
    system,
    protocol,
    rollouts: windows.length,
    requests: r.ok,
    errors: Object.values(r.failed).reduce((a, b) => a + b, 0),
    retried: r.refused,
    steadyP99: p99(samples.filter((s) => s.at > start + 1000 && !inWindow(s)).map((s) => s.ms)),
    rolloutP99: p99(samples.filter(inWindow).map((s) => s.ms)),
  }
}

async function smooth(kind: 'reload' | 'restart', protocol: TlsProtocol, tls: { cert: string; key: string }, workers: number, seconds: number, count: number): Promise<TlsRolloutRow> {
  const p = new SmoothProcess(dist('bench/apps/smooth-hello.js'), {
    WORKERS: String(workers), GRACEFUL: '1', SMOOTH_HTTPS_CERT_PATH: tls.cert, SMOOTH_HTTPS_KEY_PATH: tls.key,
    ...(protocol === 'h2' ? { SMOOTH_HTTP2: 'true' } : {}),
  })
  try {
    const port = await p.ready(30_000)
    return await measure(`Smooth ${kind}`, protocol, port, seconds, count, async () => { await rolloutBySignal(p, kind) })
  } finally {
    p.kill()
  }
}


async function pm2(protocol: TlsProtocol, tls: { cert: string; key: string }, workers: number, seconds: number, count: number): Promise<TlsRolloutRow> {
  const home = mkdtempSync(join(tmpdir(), 'smooth-bench-pm2-'))
  const bin = resolve(ROOT, 'node_modules/.bin/pm2')
  const env = { ...process.env, PM2_HOME: home, PORT: String(await freePort()), CERT: tls.cert, KEY: tls.key, PROTOCOL: protocol }
  const pm = (...args: string[]) => run(bin, args, { env, timeout: 120_000 })
  try {
    await pm('start', resolve(ROOT, 'bench/apps/pm2-tls-hello.cjs'), '-i', String(workers), '--name', 'hello', '--wait-ready', '--listen-timeout', '10000')
    return await measure('PM2 reload (cluster)', protocol, Number(env.PORT), seconds, count, async () => {
      await pm('reload', 'hello')
    })
  } finally {
    await pm('kill').catch(() => {})
    rmSync(home, { recursive: true, force: true })
  }
}

export async function tlsRolloutBench(opts: { workers: number; seconds: number; count: number; pm2?: boolean }): Promise<TlsRolloutRow[]> {
  const dir = mkdtempSync(join(tmpdir(), 'smooth-bench-tls-'))
  const tls = selfSignedCertificate(dir)
  const rows: TlsRolloutRow[] = []
  try {
    for (const protocol of ['https', 'h2'] as const) {
      rows.push(await smooth('reload', protocol, tls, opts.workers, opts.seconds, opts.count))
      rows.push(await smooth('restart', protocol, tls, opts.workers, opts.seconds, opts.count))
      if (opts.pm2 !== false) rows.push(await pm2(protocol, tls, opts.workers, opts.seconds, opts.count))
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  return rows
}

/** The BENCHMARKS.md section of these rows. */
export function tlsRolloutSection(rows: TlsRolloutRow[], workers: number): string {
  const f = (n: number, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : 'n/a')
  const name = { https: 'HTTPS/1.1 keep-alive', h2: 'HTTP/2' }
  const lines = rows.map((r) => `| ${name[r.protocol]} | ${r.system} | ${r.rollouts} | ${r.requests} | **${r.errors}** | ${f(r.errors / Math.max(1, r.rollouts), 1)} | ${r.protocol === 'h2' ? r.retried : '–'} | ${f(r.steadyP99)} | ${f(r.rolloutP99)} |`)
  return `## Rollouts under HTTPS and HTTP/2 load (${workers} workers each)

Command: \`npm run bench\` (\`BENCH_ROLLOUT_SECONDS\`, \`BENCH_ROLLOUTS\`). The hello-world route over TLS:
HTTPS/1.1 with 50 keep-alive connections (undici), HTTP/2 with 20 sessions × 10 concurrent streams
(Node's client, which opens a new session when it receives a GOAWAY); load in the bench process,
rollouts as in the section above. PM2 runs the route on plain Fastify with its own TLS (\`https\`, and
\`http2\` for HTTP/2). "Retried": HTTP/2 streams the client's own nghttp2 refused without sending them
(it read the shutdown notice before writing them; RFC 9113 §8.7: safe to retry), retried — not errors.

| protocol | system | rollouts | requests | errors | errors per rollout | retried | steady p99 ms | rollout p99 ms |
|---|---|---|---|---|---|---|---|---|
${lines.join('\n')}

Target: zero errors for Smooth in every run.
`
}
