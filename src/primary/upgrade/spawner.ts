import { SmoothError } from '../../errors.js'
import { EnvNames, FD_BASE } from '../../wire.js'
import { envName } from '../../config/keys.js'
import { startDir } from '../launch.js'
import type { LaunchPlan } from '../successor.js'
import type { RawHandle } from '../listeners.js'
import type { Generation } from '../anchor-link.js'
import type { Primary } from '../context.js'

/** A listening socket handed to the successor: its listener key, our fd, and the handle (for the anchor). */
export interface Passed { key: string; fd: number; handle: () => RawHandle }

/**
 * How a successor is started: by the anchor (it keeps the stable pid and waits for every generation),
 * or directly by this process (no anchor, or it died). Chosen once per restart.
 */
export interface Spawner {
  readonly kind: 'anchored' | 'direct'
  spawn(plan: LaunchPlan, env: Record<string, string>, passed: Passed[]): Promise<Generation>
}

export function chooseSpawner(p: Primary): Spawner {
  const anchor = p.anchor
  if (anchor && !anchor.gone) {
    return {
      kind: 'anchored',
      spawn: (plan, env, passed) => anchor.spawn(plan.command, plan.args, startDir(plan.launch), env, passed.map((l) => ({ key: l.key, handle: l.handle() }))),
    }
  }
  return {
    kind: 'direct',
    async spawn(plan, env, passed) {
      // Without an anchor (none, or it died), this process starts the successor itself.
      if (anchor) {
        delete env[EnvNames.anchorPid]
        env[EnvNames.anchorGone] = '1'
      }
      const proc = p.os.spawn(plan.command, plan.args, passed.map((l) => l.fd), env, startDir(plan.launch))
      const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => {
        proc.once('exit', (code, signal) => resolve({ code, signal }))
        proc.once('error', () => resolve({ code: null, signal: null }))
      })
      if (!proc.pid) throw new SmoothError('SMOOTH_SUCCESSOR_SPAWN_FAILED', plan.target, 'no process was created')
      return { pid: proc.pid, exited, kill: (sig) => { proc.kill(sig) } }
    },
  }
}

/** The successor's environment: ours, plus what it needs to find us and the sockets it inherits. */
export function successorEnv(p: Primary, channel: { address: string; token: string }, failureFile: string, passed: Passed[], full: boolean): Record<string, string> {
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    [EnvNames.role]: 'primary',
    [EnvNames.generation]: String(p.generation + 1),
    [EnvNames.statusAddr]: channel.address,
    [EnvNames.statusToken]: channel.token,
    [EnvNames.failureFile]: failureFile,
    ...p.adminSecret?.forSuccessor(),
  }
  delete env[EnvNames.adminVerifier]
  // A scaled pool stays scaled across the restart.
  if (p.pool && p.pool.size !== p.config.process.workers) env[envName('workers')] = String(p.pool.size)
  if (!full) env[EnvNames.inheritFds] = JSON.stringify(Object.fromEntries(passed.map((l, i) => [l.key, FD_BASE + i])))
  // The successor binds the ports the way they are bound now (a port 0 became a real port).
  if (full) env[EnvNames.boundPorts] = JSON.stringify(Object.fromEntries(p.listeners.map((l) => [l.spec.key, l.port])))
  return env
}

/** What a restart hands over: every listening socket, and admin's (none in a full restart: the successor binds anew). */
export function socketsToPass(p: Primary, full: boolean): Passed[] {
  if (full) return []
  const adminSpec = p.config.process.adminAddress
  const admin = p.adminServer
  return [
    ...p.listeners.map((l) => ({ key: l.spec.key, fd: l.handle.fd, handle: () => l.handle })),
    ...(admin && adminSpec ? [{ key: adminSpec.key, fd: admin.fd, handle: () => (admin.app.server as unknown as { _handle: RawHandle })._handle }] : []),
  ]
}
