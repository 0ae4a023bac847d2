import type { Agent } from 'node:http'
import { get } from './http.js'

export interface LoadResult { ok: number; failed: number; errors: string[]; statuses: Record<number, number>; failedAt?: number[] }

/**
 * Sequential requests on new connections (or on `agent`'s keep-alive ones) from `concurrency` loops,
 * until `stop()` or `maxMs` or `maxRequests`, whichever comes first (bounded in time and count).
 */
export function steadyLoad(url: string, opts: { concurrency: number; maxMs: number; maxRequests?: number; timeoutMs?: number; agent?: Agent }) {
  const result: LoadResult = { ok: 0, failed: 0, errors: [], statuses: {} }
  const deadline = Date.now() + opts.maxMs
  const max = opts.maxRequests ?? 100_000
  let stopped = false
  let sent = 0
  const loop = async (): Promise<void> => {
    while (!stopped && Date.now() < deadline && sent < max) {
      sent++
      try {
        const r = await get(url, { timeoutMs: opts.timeoutMs ?? 5000, ...(opts.agent ? { agent: opts.agent } : {}) })
        result.statuses[r.status] = (result.statuses[r.status] ?? 0) + 1
        if (r.status >= 200 && r.status < 300) result.ok++
        else result.failed++
      } catch (err) {
        result.failed++
        if (result.errors.length < 20) {
          result.errors.push((err as Error).message)
          ;(result.failedAt ??= []).push(Date.now())
        }
      }
    }
  }
  const done = Promise.all(Array.from({ length: opts.concurrency }, loop)).then(() => result)
  return {
    result,
    done,
    stop: async () => {
      stopped = true
      return done
    },
  }
}
