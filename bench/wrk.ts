import { execFile } from 'node:child_process'
import { promisify } from 'node:util'

const run = promisify(execFile)

export interface WrkResult { rps: number; requests: number; errors: number; non2xx: number; p99Ms: number; raw: string }

/** Runs wrk (bounded by its -d duration) and parses requests/s, errors and p99 latency. */
export async function wrk(url: string, opts: { connections: number; seconds: number; close?: boolean; threads?: number }): Promise<WrkResult> {
  const args = ['-t', String(opts.threads ?? 1), '-c', String(opts.connections), '-d', `${opts.seconds}s`, '--latency', '--timeout', '5s']
  if (opts.close) args.push('-H', 'Connection: close')
  args.push(url)
  const { stdout } = await run('wrk', args, { timeout: (opts.seconds + 30) * 1000 })
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1] ?? NaN)
  const requests = Number(/(\d+) requests in/.exec(stdout)?.[1] ?? NaN)
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(stdout)
  const errors = sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(stdout)?.[1] ?? 0)
  const p99 = /99%\s+([\d.]+)(us|ms|s)/.exec(stdout)
  const p99Ms = p99 ? Number(p99[1]) * ({ us: 0.001, ms: 1, s: 1000 }[p99[2] as 'us' | 'ms' | 's']) : NaN
  return { rps, requests, errors, non2xx, p99Ms, raw: stdout }
}
