import type { CanaryView } from '../primary/canary-run.js'

/** A small client for the admin API (fetch, Bearer token). */
export interface RolloutRecord {
  id: number; kind: 'reload' | 'restart' | 'scale'; result?: 'success' | 'failure'
  error?: { code: string; message: string }; progress: { done: number; total: number; step: string }
  startedAt: number; durationMs?: number
  canary?: CanaryView
}
export interface Status {
  pid: number; anchorPid: number | null; generation: number; state: string; graceful: boolean
  workers: Array<{ id: number; pid: number; state: string }>
  workersWanted: number
  rollout: RolloutRecord | null
  rollouts: RolloutRecord[]
  build?: { entry: string; entryResolved: string; startedWith: string; version: string | null; node: string; startedAt: number; signalPid: number }
}

export class AdminClient {
  constructor(readonly url: string, private readonly token: string | undefined) {
    this.url = url.replace(/\/+$/, '')
  }

  private headers(): Record<string, string> {
    return this.token ? { authorization: `Bearer ${this.token}` } : {}
  }

  async status(): Promise<Status> {
    const res = await fetch(`${this.url}/status`, { headers: this.headers(), signal: AbortSignal.timeout(5000) })
    if (res.status !== 200) throw new Error(`status answered ${res.status}: ${await res.text()}`)
    return (await res.json()) as Status
  }

  async action(command: string, query: Record<string, string | undefined>, timeoutMs = 10_000): Promise<{ status: number; body: unknown }> {
    const q = new URLSearchParams(Object.entries(query).filter((e): e is [string, string] => e[1] !== undefined))
    const res = await fetch(`${this.url}/${command}${q.size ? `?${q}` : ''}`, { method: 'POST', headers: this.headers(), signal: AbortSignal.timeout(timeoutMs) })
    return { status: res.status, body: await res.json().catch(() => ({})) }
  }
}
