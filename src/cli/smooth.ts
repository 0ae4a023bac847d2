#!/usr/bin/env node
/**
 * `smooth status|reload|restart|shutdown`: talks to the admin API (`--url`, repeatable for a fleet),
 * or, with `--pid-file`, signals the process. Progress is printed as it happens; the exit code says
 * whether the rollout succeeded (0), failed or was refused (1), the usage was wrong (2), or a host
 * could not be reached (3).
 */
import { parseArgs } from 'node:util'
import { AdminClient, type Status } from './client.js'
import { rollOut } from './rollout.js'
import { readFileSync } from 'node:fs'
import { readRecord } from './record.js'
import { canaryLine } from './canary-text.js'
import { bySignal, ExitCode } from './by-signal.js'
import { SmoothError } from '../errors.js'

const USAGE = `usage: smooth start <entry> [options]     (smooth start --help)
       smooth dev <entry> [options]       (start, one worker, reload on every saved change)
       smooth scale <N|+N|-N> [--url URL] [--token TOKEN]
       smooth <status|reload|restart|shutdown> [options]   (no options: the server started in this directory)
  --url URL         admin base URL, e.g. http://127.0.0.1:8199/debug/admin (repeat for a fleet:
                    hosts are rolled one at a time, each gated on the previous one being healthy)
  --token TOKEN     admin token (default: $SMOOTH_ADMIN_TOKEN)
  --exe PATH        restart onto this executable or entry (newExeFilePath)
  --canary          reload/restart as a canary: new workers serve beside the old ones for the
                    configured window and are promoted or rolled back by their 5xx ratio and p99
  --pid-file FILE   signal the process named in FILE instead of using the API, and follow the
                    outcome in FILE.json (written by the server next to its pidFile)
  --timeout SECS    give up waiting for a rollout after this long (default 300)
  --json            machine-readable output (one JSON object per line)`

export { ExitCode }

async function main(argv: string[]): Promise<number> {
  // `start` runs the server in this process (and its children re-run this command line): its own file.
  if (argv[0] === 'start' || argv[0] === 'dev') return (await import('./start.js')).start(argv.slice(1), argv[0])
  if (argv[0] === 'scale') return (await import('./scale.js')).scale(argv.slice(1))
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        url: { type: 'string', multiple: true },
        token: { type: 'string' },
        exe: { type: 'string' },
        canary: { type: 'boolean' },
        'pid-file': { type: 'string' },
        timeout: { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    })
  } catch (err) {
    process.stderr.write(`smooth: ${(err as Error).message}\n${USAGE}\n`)
    return ExitCode.usage
  }
  const { values, positionals } = parsed
  const command = positionals[0]
  if (values.help) {
    process.stdout.write(USAGE + '\n')
    return ExitCode.ok
  }
  if (!command || !['status', 'reload', 'restart', 'shutdown'].includes(command) || positionals.length > 1) {
    process.stderr.write(`smooth: expected one command: status, reload, restart or shutdown\n${USAGE}\n`)
    return ExitCode.usage
  }
  const json = Boolean(values.json)
  const say = (human: string, data: Record<string, unknown>): void => {
    process.stdout.write(json ? JSON.stringify(data) + '\n' : human + '\n')
  }

  const timeoutMs = Number(values.timeout ?? 300) * 1000
  const usage = (err: SmoothError): number => {
    process.stderr.write(`smooth: ${err.code}: ${err.message}\n`)
    if (json) say('', { ok: false, code: err.code, error: err.message })
    return ExitCode.usage
  }
  if (values['pid-file']) {
    if (values.url) return usage(new SmoothError('SMOOTH_CLI_CONFLICT'))
    if (values.exe) return usage(new SmoothError('SMOOTH_CLI_EXE_BY_SIGNAL', JSON.stringify(values.exe)))
    if (values.canary) return usage(new SmoothError('SMOOTH_CLI_CANARY_BY_SIGNAL'))
    return bySignal(command, values['pid-file'], timeoutMs, say)
  }

  const urls = values.url ?? []
  // No address given: the server `smooth start` runs from this directory (see record.ts).
  const here = urls.length === 0 ? readRecord(process.cwd()) : undefined
  if (here?.admin) urls.push(here.admin)
  else if (here && values.canary) return usage(new SmoothError('SMOOTH_CLI_CANARY_BY_SIGNAL'))
  else if (here) return signalKnownPid(command, `the server started here (pid ${here.pid})`, say, here.pid)
  if (urls.length === 0) {
    process.stderr.write(`smooth: give --url (the admin base URL) or --pid-file\n${USAGE}\n`)
    return ExitCode.usage
  }
  const token = values.token ?? process.env.SMOOTH_ADMIN_TOKEN

  if (command === 'status') {
    let code: number = ExitCode.ok
    for (const url of urls) {
      try {
        const s = await new AdminClient(url, token).status()
        say(describe(url, s), { host: url, ...s })
      } catch (err) {
        say(`${url}: unreachable: ${(err as Error).message}`, { host: url, error: (err as Error).message })
        code = ExitCode.unreachable
      }
    }
    return code
  }

  if (command === 'shutdown') {
    for (const url of urls) {
      const r = await new AdminClient(url, token).action('shutdown', {}).catch((err: Error) => ({ status: 0, body: { error: err.message } }))
      if (r.status !== 200) {
        say(`${url}: shutdown failed: ${errorOf(r.body)}`, { host: url, ok: false, error: errorOf(r.body) })
        return ExitCode.failed
      }
      say(`${url}: shutting down`, { host: url, ok: true })
    }
    return ExitCode.ok
  }

  // reload / restart, one host at a time
  for (const [i, url] of urls.entries()) {
    const where = urls.length > 1 ? ` (host ${i + 1} of ${urls.length})` : ''
    const result = await rollOut(new AdminClient(url, token), command as 'reload' | 'restart', values.exe, timeoutMs,
      (p) => say(`${url}${where}: ${p.text}`, { host: url, event: 'progress', ...p }), Boolean(values.canary))
    if (result.canary) say(`${url}${where}: ${result.canary}`, { host: url, event: 'canary', decision: result.canary })
    if (!result.ok) {
      const rest = urls.length > i + 1 ? `; hosts ${i + 2}..${urls.length} were not touched` : ''
      say(`${url}${where}: ${command} failed: ${result.error}${urls.length > 1 ? `. Fleet rollout stopped at host ${i + 1} of ${urls.length}${rest}` : ''}`,
        { host: url, event: 'failed', code: result.code, error: result.error, stoppedAt: i + 1, of: urls.length })
      return result.unreachable ? ExitCode.unreachable : ExitCode.failed
    }
    say(`${url}${where}: ${command} done in ${(result.ms / 1000).toFixed(1)} s, healthy (generation ${result.status.generation}, ${result.status.workers.length} workers ready)`,
      { host: url, event: 'done', ms: result.ms, generation: result.status.generation })
  }
  if (urls.length > 1) say(`fleet ${command} done: ${urls.length} hosts`, { event: 'fleetDone', hosts: urls.length })
  return ExitCode.ok
}

function describe(url: string, s: Status): string {
  const workers = s.workers.map((w) => `${w.pid}:${w.state}`).join(' ')
  const canary = s.rollout?.canary ?? s.rollouts[0]?.canary
  const last = s.rollouts[0]
  return `${url}: generation ${s.generation}, primary ${s.pid}${s.anchorPid ? `, anchor ${s.anchorPid}` : ''}, ${s.state}, workers ${workers}` +
    (s.rollout ? `, ${s.rollout.kind} running (${s.rollout.progress.done}/${s.rollout.progress.total})` : '') +
    (last ? `, last rollout: ${last.kind} ${last.result}` : '') +
    (canary ? `\n  ${canaryLine(canary)}` : '') +
    (s.build ? `\n  running ${s.build.entryResolved}${s.build.version ? ` version ${s.build.version}` : ''}, node ${s.build.node}, since ${new Date(s.build.startedAt).toISOString()}` +
      `${s.build.startedWith !== s.build.entry ? ` (started with ${s.build.startedWith})` : ''}; signal pid ${s.build.signalPid}` : '')
}

function errorOf(body: unknown): string {
  return String((body as { error?: unknown })?.error ?? JSON.stringify(body))
}

/** The server `smooth start` recorded here: signalled by its pid (no state file to follow). */
function signalKnownPid(command: string, pidFile: string, say: (h: string, d: Record<string, unknown>) => void, known?: number): number {
  let pid: number
  try {
    pid = known ?? Number(readFileSync(pidFile, 'utf8').trim())
  } catch (err) {
    say(`cannot read ${pidFile}: ${(err as NodeJS.ErrnoException).code}`, { error: 'pid file unreadable' })
    return ExitCode.unreachable
  }
  const signal = { status: 0, reload: 'SIGUSR2', restart: 'SIGUSR1', shutdown: 'SIGTERM' }[command] as NodeJS.Signals | 0
  try {
    process.kill(pid, signal)
  } catch {
    say(`process ${pid} (from ${pidFile}) is not running`, { pid, running: false })
    return ExitCode.unreachable
  }
  say(command === 'status' ? `process ${pid} is running` : `sent ${signal} to ${pid}; the server's log shows the progress`, { pid, running: true, signal: signal || null })
  return ExitCode.ok
}

process.exitCode = await main(process.argv.slice(2))
