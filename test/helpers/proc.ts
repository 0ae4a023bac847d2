import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { dirname, resolve } from 'node:path'

/** Repository root (this file is dist/test/helpers/proc.js once built). */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..')
export const DIST = resolve(ROOT, 'dist')

export interface LogLine { msg: string; pid: number; role?: string; level: number; [k: string]: unknown }

/** Every process tree a test started, so a failing test still leaves nothing behind. */
const live = new Set<SmoothProcess>()

/**
 * A Smooth program under test. It runs in its own process group (detached), so cleanup can kill the
 * whole tree by process-group id, and so a test can send a signal to the group like a terminal's
 * Ctrl-C does.
 */
export class SmoothProcess {
  readonly child: ChildProcess
  readonly logs: LogLine[] = []
  stdout = ''
  stderr = ''
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  private waiters: Array<() => void> = []
  exitCode: number | null | undefined

  /**
   * `launcher`: a command that execs node with the rest (e.g. a shell that sets `ulimit -n` first).
   * `cwd`: where it runs (an app directory for `smooth start`).
   */
  constructor(script: string, env: Record<string, string | undefined> = {}, args: string[] = [], launcher: string[] = [], cwd = ROOT) {
    const [command, ...before] = [...launcher, process.execPath]
    this.child = spawn(command!, [...before, script, ...args], {
      cwd,
      env: { ...process.env, SMOOTH_CONFIG: undefined, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    })
    live.add(this)
    let buf = ''
    this.child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      this.stdout += chunk
      buf += chunk
      let i: number
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i)
        buf = buf.slice(i + 1)
        try {
          this.logs.push(JSON.parse(line) as LogLine)
        } catch {
          // not a log line
        }
      }
      this.notify()
    })
    this.child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr += chunk
      this.notify()
    })
    this.exited = new Promise((res) => {
      this.child.on('exit', (code, signal) => {
        this.exitCode = code
        res({ code, signal })
        this.notify()
      })
    })
  }

  get pid(): number {
    return this.child.pid!
  }

  private notify(): void {
    for (const w of this.waiters.splice(0)) w()
  }

  /** Waits for a log line matching `pred`, failing with `what` after `timeoutMs`. */
  async waitFor(what: string, pred: (l: LogLine) => boolean, timeoutMs = 15_000, from = 0): Promise<LogLine> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const hit = this.logs.slice(from).find(pred)
      if (hit) return hit
      if (this.exitCode !== undefined) throw new Error(`process exited (code ${this.exitCode}) before: ${what}\n${this.tail()}`)
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}\n${this.tail()}`)
      await new Promise<void>((r) => {
        const t = setTimeout(r, left)
        this.waiters.push(() => { clearTimeout(t); r() })
      })
    }
  }

  waitForMsg(msg: string | RegExp, timeoutMs?: number, from?: number): Promise<LogLine> {
    const m = (l: LogLine) => (typeof msg === 'string' ? l.msg === msg : msg.test(l.msg))
    return this.waitFor(`log "${msg}"`, m, timeoutMs, from)
  }

  /** Waits for the process to exit, failing with a message after `timeoutMs`. */
  async waitExit(timeoutMs = 20_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    let t: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_, rej) => {
      t = setTimeout(() => rej(new Error(`timed out after ${timeoutMs} ms waiting for pid ${this.pid} to exit\n${this.tail()}`)), timeoutMs)
    })
    try {
      return await Promise.race([this.exited, timeout])
    } finally {
      clearTimeout(t)
    }
  }

  /** Starts and waits until the server says it is ready; returns the first port it listens on. */
  async ready(timeoutMs = 20_000): Promise<number> {
    await this.waitForMsg('server ready', timeoutMs)
    return this.ports()[0]!
  }

  ports(): number[] {
    return this.logs.filter((l) => /server started listening/.test(l.msg)).map((l) => Number(l.port))
  }

  workerPids(): number[] {
    return [...new Set(this.logs.filter((l) => l.msg === 'worker ready').map((l) => Number(l.workerPid)))]
  }

  /** Every pid of the tree this test has seen (primary and workers). */
  allPids(): number[] {
    return [...new Set([this.pid, ...this.logs.map((l) => l.pid), ...this.workerPids()])]
  }

  signal(sig: NodeJS.Signals): void {
    process.kill(this.pid, sig)
  }

  signalGroup(sig: NodeJS.Signals): void {
    process.kill(-this.pid, sig)
  }

  tail(): string {
    return `--- stdout (tail)\n${this.stdout.slice(-3000)}\n--- stderr (tail)\n${this.stderr.slice(-2000)}`
  }

  /** Kills the whole process group by its id. Safe to call twice. */
  kill(): void {
    try { process.kill(-this.pid, 'SIGKILL') } catch { /* already gone */ }
    for (const pid of this.allPids()) {
      try { process.kill(pid, 'SIGKILL') } catch { /* already gone */ }
    }
    live.delete(this)
  }
}

export function killAll(): void {
  for (const p of live) p.kill()
}

/** True while a process exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z'
  } catch {
    return false
  }
}

/** Polls a condition (for things no event reports, such as a process disappearing). */
export async function until(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 10_000, everyMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`)
    await new Promise((r) => setTimeout(r, everyMs))
  }
}

export function dist(...parts: string[]): string {
  return resolve(DIST, ...parts)
}
