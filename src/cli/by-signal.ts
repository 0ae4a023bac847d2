import { readFileSync } from 'node:fs'
import { setTimeout as delay } from 'node:timers/promises'
import { SmoothError } from '../errors.js'
import { readState, stateFileOf, type ServerState } from '../primary/state-file.js'

export type Say = (human: string, data: Record<string, unknown>) => void
export const ExitCode = { ok: 0, failed: 1, usage: 2, unreachable: 3 } as const

const POLL_MS = 200
const Signals = { reload: 'SIGUSR2', restart: 'SIGUSR1', shutdown: 'SIGTERM' } as const

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

function fail(say: Say, err: SmoothError, code: number = ExitCode.failed): number {
  say(`smooth: ${err.code}: ${err.message}`, { ok: false, code: err.code, error: err.message })
  return code
}

/**
 * `smooth <command> --pid-file F`: signals the pid in F, then follows the outcome in the state file
 * the live primary keeps next to it (`F.json`), and exits as with --url: 0 done, 1 failed, refused or
 * not followed, 3 not running.
 */
export async function bySignal(command: string, pidFile: string, timeoutMs: number, say: Say): Promise<number> {
  let pid: number
  try {
    pid = Number(readFileSync(pidFile, 'utf8').trim())
  } catch (err) {
    say(`cannot read ${pidFile}: ${(err as NodeJS.ErrnoException).code}`, { error: 'pid file unreadable' })
    return ExitCode.unreachable
  }
  if (!Number.isInteger(pid) || pid <= 0 || !alive(pid)) {
    say(`process ${pid} (from ${pidFile}) is not running`, { pid, running: false })
    return ExitCode.unreachable
  }
  const before = readState(pidFile)
  if (command === 'status') {
    say(before ? describeState(pid, before) : `process ${pid} is running (no ${stateFileOf(pidFile)} to say more)`, { pid, running: true, ...before })
    return ExitCode.ok
  }
  const kind = command as keyof typeof Signals
  const signal = Signals[kind]
  const sentAt = Date.now()
  process.kill(pid, signal)
  const started = Date.now()
  const elapsed = (): string => ((Date.now() - started) / 1000).toFixed(1)
  if (kind === 'shutdown') {
    while (alive(pid)) {
      if (Date.now() - started > timeoutMs) return fail(say, new SmoothError('SMOOTH_CLI_TIMEOUT', 'shutdown', timeoutMs / 1000))
      await delay(POLL_MS)
    }
    say(`process ${pid} stopped in ${elapsed()} s`, { pid, event: 'done', ms: Date.now() - started })
    return ExitCode.ok
  }
  if (!before) {
    return fail(say, new SmoothError('SMOOTH_CLI_NOT_FOLLOWED', signal, String(pid), `no ${stateFileOf(pidFile)} (Smooth writes it next to its pidFile; is pidFile set in the server's config?)`))
  }
  const known = new Set(before.rollouts.map((r) => r.id))
  if (before.rollout) known.add(before.rollout.id)
  say(`sent ${signal} to ${pid}`, { pid, event: 'sent', signal })
  let last = ''
  while (Date.now() - started < timeoutMs) {
    await delay(POLL_MS)
    if (!alive(pid)) return fail(say, new SmoothError('SMOOTH_CLI_SERVER_EXITED', pid, kind))
    const now = readState(pidFile)
    if (!now) continue
    if (now.refused && now.refused.at >= sentAt && now.refused.kind === kind) {
      say(`${kind} refused: ${now.refused.code}: ${now.refused.message}`, { ok: false, event: 'refused', code: now.refused.code, error: now.refused.message })
      return ExitCode.failed
    }
    const running = now.rollout && !known.has(now.rollout.id) ? now.rollout : undefined
    if (running) {
      const text = `${kind} #${running.id}: ${running.progress.done}/${running.progress.total} ${running.progress.step}`
      if (text !== last) say(`${text} (${elapsed()} s)`, { event: 'progress', ...running.progress })
      last = text
    }
    const rec = now.rollouts.find((r) => !known.has(r.id) && r.kind === kind)
    if (rec?.result === 'failure') {
      say(`${kind} failed: ${rec.error?.code}: ${rec.error?.message}`, { ok: false, event: 'failed', code: rec.error?.code, error: rec.error?.message })
      return ExitCode.failed
    }
    if (rec?.result === 'success' && (kind === 'reload' || now.generation > before.generation)) {
      say(`${kind} done in ${elapsed()} s (generation ${now.generation}, running ${now.build.entryResolved}${now.build.version ? ` version ${now.build.version}` : ''})`,
        { ok: true, event: 'done', ms: Date.now() - started, generation: now.generation, build: now.build })
      return ExitCode.ok
    }
  }
  return fail(say, new SmoothError('SMOOTH_CLI_TIMEOUT', kind, timeoutMs / 1000))
}

function describeState(pid: number, s: ServerState): string {
  const last = s.rollouts[0]
  return `process ${pid}: generation ${s.generation}, primary ${s.pid}, ${s.state}, running ${s.build.entryResolved}` +
    `${s.build.version ? ` version ${s.build.version}` : ''}, node ${s.build.node}` +
    (s.rollout ? `, ${s.rollout.kind} running` : '') + (last ? `, last rollout: ${last.kind} ${last.result}` : '')
}
