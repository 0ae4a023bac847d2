import type { AdminClient, RolloutRecord, Status } from './client.js'
import { canaryLine } from './canary-text.js'

export interface Progress { text: string; done: number; total: number; step: string; elapsedMs: number }
export type RolloutOutcome =
  | { ok: true; ms: number; status: Status; canary?: string }
  | { ok: false; error: string; code?: string; unreachable?: boolean; canary?: string }

const POLL_MS = 250

/** The host is healthy: serving, as many ready workers as it wants, no rollout running. */
export function healthy(s: Status): boolean {
  return s.state === 'serving' && !s.rollout && s.workers.filter((w) => w.state === 'ready').length >= s.workersWanted
}

/**
 * Starts a reload or restart on one host and follows it to the end through /status: a reload ends in
 * that generation's history; a restart ends in the new generation's (which carries the record over),
 * or, if it failed, in the old one's. Then waits for the host to be healthy.
 */
export async function rollOut(client: AdminClient, kind: 'reload' | 'restart', exe: string | undefined, timeoutMs: number, progress: (p: Progress) => void, canary = false): Promise<RolloutOutcome> {
  const started = Date.now()
  let before: Status
  try {
    before = await client.status()
  } catch (err) {
    return { ok: false, error: `unreachable: ${(err as Error).message}`, unreachable: true }
  }
  if (!healthy(before)) return { ok: false, error: `not healthy before the ${kind} (state ${before.state}, ${before.rollout ? 'a rollout is running' : 'workers missing'})` }
  const res = await client.action(kind, { newExeFilePath: exe, ...(canary ? { canary: '1' } : {}) }).catch((err: Error) => ({ status: 0, body: { error: err.message } }))
  if (res.status !== 202) {
    const body = res.body as { error?: string; code?: string }
    return { ok: false, error: body.code ? `${body.code}: ${body.error}` : String(body.error ?? `HTTP ${res.status}`), code: body.code }
  }
  const id = (res.body as { rollout: RolloutRecord }).rollout.id
  let last = ''
  const report = (r: RolloutRecord): void => {
    // While a canary is watched, its figures are the news (one line per sample, about a second).
    const step = r.canary?.phase === 'watching' ? canaryLine(r.canary) : r.progress.step
    const text = `${kind} #${id}: ${r.progress.done}/${r.progress.total} ${step} (${((Date.now() - started) / 1000).toFixed(1)} s)`
    if (text.replace(/\(.*\)$/, '') !== last) progress({ text, done: r.progress.done, total: r.progress.total, step: r.progress.step, elapsedMs: Date.now() - started })
    last = text.replace(/\(.*\)$/, '')
  }
  let finished: RolloutRecord | undefined
  let status: Status | undefined
  while (Date.now() - started < timeoutMs) {
    await new Promise((r) => setTimeout(r, POLL_MS))
    try {
      status = await client.status()
    } catch {
      continue // a restart's handover; try again
    }
    if (status.rollout?.id === id) report(status.rollout)
    const rec = status.rollouts.find((h) => h.id === id && h.kind === kind)
    const sameHost = kind === 'reload' ? status.generation === before.generation : true
    if (rec && sameHost && (rec.result === 'failure' || kind === 'reload' || status.generation > before.generation)) {
      finished = rec
      if (rec.result === 'failure') return { ok: false, error: `${rec.error?.code}: ${rec.error?.message ?? 'failed'}`, code: rec.error?.code, ...(rec.canary ? { canary: canaryLine(rec.canary) } : {}) }
      report(rec)
    }
    if (finished && healthy(status)) return { ok: true, ms: Date.now() - started, status, ...(finished.canary ? { canary: canaryLine(finished.canary) } : {}) }
  }
  return { ok: false, error: `timed out after ${timeoutMs / 1000} s (${finished ? 'done but not healthy' : 'still running'})` }
}
