import { spawn, type ChildProcess } from 'node:child_process'
import { createServer } from 'node:net'
import { writeFileSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { get } from './http.js'

/** A port that was free a moment ago (Prometheus takes its listen address as a flag, not port 0). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port
      s.close(() => resolve(port))
    })
  })
}

export interface PromSeries { metric: Record<string, string>; values?: Array<[number, string]>; value?: [number, string] }

/** Debian's prometheus on 127.0.0.1, scraping `target` every second, with its data in `dir`. */
export class Prometheus {
  readonly child: ChildProcess
  private log = ''

  private constructor(readonly url: string, dir: string, config: string, port: number) {
    this.child = spawn('prometheus', [
      `--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn',
    ], { stdio: ['ignore', 'ignore', 'pipe'] })
    this.child.stderr!.setEncoding('utf8').on('data', (c: string) => { this.log = (this.log + c).slice(-4000) })
  }

  static async start(dir: string, target: string): Promise<Prometheus> {
    mkdirSync(dir, { recursive: true })
    const config = join(dir, 'prometheus.yml')
    writeFileSync(config, [
      'global:', '  scrape_interval: 1s', '  scrape_timeout: 1s', '  evaluation_interval: 1s',
      'scrape_configs:', '  - job_name: smooth', '    static_configs:', `      - targets: ['${target}']`, '',
    ].join('\n'))
    const port = await freePort()
    const prom = new Prometheus(`http://127.0.0.1:${port}`, dir, config, port)
    await prom.until('Prometheus to be ready', async () => (await get(`${prom.url}/-/ready`, { timeoutMs: 2000 }).catch(() => ({ status: 0 }))).status === 200, 30_000)
    return prom
  }

  /** Runs an API call; throws with Prometheus' own error text. */
  async api(path: string, params: Record<string, string | number>): Promise<unknown> {
    const qs = new URLSearchParams(Object.entries(params).map(([k, v]) => [k, String(v)]))
    const r = await get(`${this.url}/api/v1/${path}?${qs}`, { timeoutMs: 10_000 })
    const body = JSON.parse(r.body) as { status: string; data: unknown; error?: string }
    if (body.status !== 'success') throw new Error(`prometheus ${path} ${params.query ?? ''}: ${body.error}`)
    return body.data
  }

  async query(query: string, time?: number): Promise<PromSeries[]> {
    return ((await this.api('query', time === undefined ? { query } : { query, time })) as { result: PromSeries[] }).result
  }

  async queryRange(query: string, start: number, end: number, step = 1): Promise<PromSeries[]> {
    return ((await this.api('query_range', { query, start, end, step })) as { result: PromSeries[] }).result
  }

  /** Polls `cond` until true; fails naming what it waited for, with Prometheus' log. */
  async until(what: string, cond: () => Promise<boolean>, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs
    while (!(await cond().catch(() => false))) {
      if (this.child.exitCode !== null) throw new Error(`prometheus exited (${this.child.exitCode}) before: ${what}\n${this.log}`)
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}\n${this.log}`)
      await new Promise((r) => setTimeout(r, 250))
    }
  }

  stop(): void {
    if (this.child.exitCode === null && this.child.pid) {
      try { process.kill(this.child.pid, 'SIGKILL') } catch { /* gone */ }
    }
  }
}
