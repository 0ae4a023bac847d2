import { readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { SmoothError } from '../../errors.js'
import type { SuccessorFrame } from '../../protocol.js'
import { StatusServer } from '../status-channel.js'
import { rollbackReason } from '../rollback-reason.js'
import type { LaunchPlan } from '../successor.js'
import type { Generation } from '../anchor-link.js'
import type { RolloutRecord } from '../rollout.js'
import type { Primary, RequesterHooks } from '../context.js'
import { chooseSpawner, socketsToPass, successorEnv } from './spawner.js'
import { handshake } from './handshake.js'
import { releasePorts, takePortsBack } from './full-restart.js'

/**
 * The old side of a restart: start the successor, walk it through the status-channel handshake, hand
 * over; or, on any failure, roll back (the successor is killed, our service restored) and throw why.
 * The states it goes through are upgrade/state.ts's.
 */
export function handOver(p: Primary, plan: LaunchPlan, rec: RolloutRecord, hooks: RequesterHooks): Promise<void> {
  const running = handOverSteps(p, plan, rec, hooks)
  p.upgrade.running = running
  return running
}

/** Throws once a shutdown has started: it wins over a restart at every step. */
function checkNotStopping(p: Primary): void {
  if (p.stopRequested()) throw new SmoothError('SMOOTH_SHUTTING_DOWN')
}

/**
 * At most two generations: a restart asked for just after the one that started us waits until our
 * predecessor has exited (new-side.ts watches it, within a bound). A shutdown stops the wait.
 */
async function awaitPredecessorExit(p: Primary, rec: RolloutRecord): Promise<void> {
  const { upgrade, os } = p
  const pid = upgrade.predecessorPid
  if (pid === undefined) return
  rec.progress.step = `waiting for the previous generation (pid ${pid}) to exit`
  p.log.info({ predecessor: pid }, 'restart waits for the previous generation to exit')
  while (upgrade.predecessorPid !== undefined) {
    checkNotStopping(p)
    await os.sleep(p.timings.predecessorPollMs)
  }
}

async function handOverSteps(p: Primary, plan: LaunchPlan, rec: RolloutRecord, hooks: RequesterHooks): Promise<void> {
  const { log, upgrade, workerCounts } = p
  await awaitPredecessorExit(p, rec)
  const channel = new StatusServer(log)
  channel.on('refused', () => p.metrics.refused())
  channel.on('hello', () => workerCounts.connect((f) => channel.send(f)))
  channel.on('frame', (f: SuccessorFrame) => workerCounts.onFrame(f))
  const address = await channel.open()
  const failure = join(tmpdir(), `smooth-failure-${process.pid}-${randomBytes(6).toString('hex')}`)
  const full = p.config.process.fullRestart
  const passed = socketsToPass(p, full)
  const env = successorEnv(p, { address, token: channel.token }, failure, passed, full)
  let child: Generation | undefined
  try {
    rec.progress.step = `starting ${plan.target}`
    checkNotStopping(p)
    const spawner = chooseSpawner(p)
    // A full restart's drains close connections: the successor does not exist yet to take them.
    if (full) p.handOff?.toSuccessor(undefined)
    if (full) await releasePorts(p, rec)
    upgrade.spawn()
    child = await spawner.spawn(plan, env, passed)
    upgrade.spawned(child)
    // Our draining workers' idle connections go to the successor's workers (through the anchor).
    if (!full) p.handOff?.toSuccessor(child.pid)
    log.info({ successor: child.pid, target: plan.target, generation: p.generation + 1, statusChannel: address, spawner: spawner.kind }, 'successor started')
    checkNotStopping(p)
    await handshake(p, channel, child, rec, hooks)
    upgrade.collectCounts()
    // Every worker of ours has drained by now (each retired before the next new one started).
    const counts = await workerCounts.handOver()
    // The last check: after it, nothing awaits before the handover is sent.
    checkNotStopping(p)
    channel.send({ t: 'handover', metrics: counts })
    p.anchor?.handover(child.pid)
    upgrade.handOver()
  } catch (err) {
    p.handOff?.toPool()
    // Refused before anything started (a shutdown came first): nothing to roll back.
    if (!upgrade.idle) upgrade.rollBack()
    throw await rollBack(p, err, child, plan, failure)
  } finally {
    channel.close()
    rmSync(failure, { force: true })
  }
}

/** Stops the successor (gracefully in a shutdown, SIGKILL otherwise) and names the reason for the rollback. */
async function rollBack(p: Primary, err: unknown, child: Generation | undefined, plan: LaunchPlan, failure: string): Promise<Error> {
  const { os, timings } = p
  // What the successor's workers answered during the overlap stays counted.
  p.workerCounts.lost()
  const stoppingNow = p.stopRequested()
  // A successor that died closes the channel before its exit is reported: say which it was.
  let reason = err
  if (!stoppingNow && child && (err as SmoothError).code === 'SMOOTH_STATUS_CHANNEL_CLOSED') {
    const gone = await Promise.race([child.exited, os.sleep(timings.exitReasonWaitMs)])
    if (gone) reason = new SmoothError('SMOOTH_SUCCESSOR_EXITED', child.pid, gone.signal ? `signal ${gone.signal}` : `exit code ${gone.code}`)
  }
  // A shutdown: the successor stops gracefully with us (its workers drain); a failure: it is killed.
  child?.kill(stoppingNow ? 'SIGTERM' : 'SIGKILL')
  const waitMs = stoppingNow ? p.config.process.gracefulShutdownTimeoutMs + timings.successorStopMarginMs : timings.successorKillWaitMs
  const exit = child ? await Promise.race([child.exited, os.sleep(waitMs)]) : undefined
  if (stoppingNow && child && !exit) child.kill('SIGKILL')
  if (stoppingNow) return new SmoothError('SMOOTH_SHUTTING_DOWN')
  let recorded: string | undefined
  // Its first line: "Error: release B is broken", or "SMOOTH_LISTEN_FAILED: cannot listen on …".
  try { recorded = readFileSync(failure, 'utf8').trim().split('\n')[0] } catch { /* no error was recorded */ }
  // An anchor that does not answer keeps its own code (SMOOTH_ANCHOR_GONE): the operator's fix is not the release's.
  return rollbackReason(reason, child?.pid, plan.target, recorded)
}

/**
 * After a failed restart: serve again as before. A full restart had let go of the ports: take them
 * back (in the background, bounded); otherwise start workers for the ones retired for the successor.
 * Not in a shutdown: nothing is restored then.
 */
export function restoreService(p: Primary): void {
  const { upgrade } = p
  if (upgrade.state !== 'rollingBack') return
  if (p.state !== 'serving') return upgrade.rolledBack()
  if (upgrade.visited('releasingPorts')) {
    void takePortsBack(p).finally(() => upgrade.rolledBack())
    return
  }
  p.pool!.refill()
  upgrade.rolledBack()
}

/** After a handover: stop accepting, drain what is left, exit 0. The successor is live. */
export async function retire(p: Primary): Promise<void> {
  p.state = 'retiring'
  const pool = p.pool!
  pool.stopReplacing()
  p.adminServer?.app.server.close()
  const forced = await pool.drainAll(p.config.process.gracefulTimeoutMs)
  for (const l of p.listeners) l.close()
  p.log.info({ forced }, 'all servers shutdown')
  p.markDone()
  setImmediate(() => process.exit(0))
}
