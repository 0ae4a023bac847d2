import cluster from 'node:cluster'
import { existsSync } from 'node:fs'
import { setTimeout as delay } from 'node:timers/promises'
import { spawnGeneration } from './successor.js'
import { procStat } from '../proc-stat.js'
import type { IpcEnd } from '../wire.js'

/**
 * The seam between the primary's machinery (worker pool, upgrade) and the operating system: every
 * fork, spawn, signal, clock reading and timer of that code goes through one `Os` (tableflip's env.go).
 * `realOs` is the real thing; test/helpers/fake-os.ts is a fake one the unit tests drive in
 * milliseconds, with processes that exit, answer and die when the test says so.
 */
export interface Os {
  now(): number
  setTimeout(fn: () => void, ms: number): Timer
  clearTimeout(timer: Timer | undefined): void
  setInterval(fn: () => void, ms: number): Timer
  clearInterval(timer: Timer | undefined): void
  /**
   * Resolves (to undefined) after `ms`. It does not keep the process alive unless `keepAlive`: a
   * wait that is the only thing left to do (retrying a bind with nothing else open) must.
   */
  sleep(ms: number, opts?: { keepAlive?: boolean }): Promise<undefined>
  /** Forks a worker running `entry` with the extra environment `env` (node:cluster). */
  forkWorker(spec: WorkerSpec): WorkerProcess
  /** Starts a process with inherited descriptors `fds` from FD_BASE on (a new generation, no anchor). */
  spawn(command: string, args: string[], fds: number[], env: NodeJS.ProcessEnv, cwd: string): SpawnedProcess
  /** Whether process `pid` is still running (a zombie, exited but not yet reaped, is not). */
  running(pid: number): boolean
}

/** An opaque timer handle. */
export type Timer = { readonly __timer?: never } | NodeJS.Timeout

export interface WorkerSpec { entry: string; cwd: string; execArgv: string[]; env: Record<string, string> }

/** A forked worker process as the pool sees it: an IPC end that can be killed and emits what happens. */
export interface WorkerProcess extends IpcEnd {
  readonly pid: number | undefined
  readonly connected: boolean
  kill(signal: NodeJS.Signals): void
  on(event: 'message', fn: (msg: unknown, handle: unknown) => void): this
  on(event: 'exit', fn: (code: number | null, signal: string | null) => void): this
  on(event: 'error', fn: (err: Error) => void): this
}

/** A process started with `spawn`. */
export interface SpawnedProcess {
  readonly pid?: number | undefined
  kill(signal: NodeJS.Signals): void
  once(event: 'exit', fn: (code: number | null, signal: string | null) => void): this
  once(event: 'error', fn: (err: Error) => void): this
}

export const realOs: Os = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (t) => clearTimeout(t as NodeJS.Timeout | undefined),
  setInterval: (fn, ms) => setInterval(fn, ms),
  clearInterval: (t) => clearInterval(t as NodeJS.Timeout | undefined),
  sleep: (ms, opts) => delay(ms, undefined, { ref: opts?.keepAlive === true }),
  forkWorker(spec) {
    cluster.setupPrimary({ exec: spec.entry, cwd: spec.cwd, execArgv: spec.execArgv })
    const worker = cluster.fork(spec.env)
    const proc = worker.process
    // The cluster Worker relays its process's events (message with its handle, exit, error).
    const self = {
      pid: proc.pid,
      get connected() { return worker.isConnected() },
      send: (msg: unknown, handle?: unknown, options?: object, cb?: (err: Error | null) => void) => proc.send!(msg as never, handle as never, options ?? {}, cb),
      kill: (signal: NodeJS.Signals) => { proc.kill(signal) },
      on(event: string, fn: (...args: never[]) => void) {
        worker.on(event, fn as (...args: unknown[]) => void)
        return self
      },
    }
    return self as WorkerProcess
  },
  spawn: (command, args, fds, env, cwd) => spawnGeneration(command, args, fds, env, false, cwd),
  running,
}

function running(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
  const stat = procStat(pid)
  // Gone since the kill(0), or no /proc (not Linux: kill(0) is all there is to go by).
  if (!stat) return !existsSync('/proc/self')
  // A zombie has exited and waits for its parent to reap it.
  return stat[0] !== 'Z'
}
