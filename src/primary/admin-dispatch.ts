import { httpError } from '../errors.js'
import type { ControlCommand, ControlMessage, ControlReplyMessage } from '../protocol.js'
import { checkAllowed } from '../admin/allow-list.js'
import { aggregate } from '../metrics/primary-metrics.js'
import type { WorkerSlot } from './workers.js'
import type { RolloutRecord } from './rollout.js'
import type { Primary } from './context.js'
import { readiness, statusOf } from './status.js'
import { startRollout, startScale } from './start-rollout.js'
import { parseCanaryArg } from './canary-request.js'

export interface ControlAnswer { status: number; body: unknown }

/** Worker IPC -> handleControl -> the reply, naming the request it answers. */
export async function control(p: Primary, msg: ControlMessage, from: WorkerSlot): Promise<void> {
  const { status, body } = await handleControl(p, msg.command, msg.args, from)
  from.send({ act: 'controlReply', ack: msg.seq!, ok: status < 400, status, body } satisfies Omit<ControlReplyMessage, 'smooth' | 'seq'>)
}

/** A refusal or failure as the admin's answer: its code, and the HTTP status the error table gives it (errors.ts). */
function failure(err: unknown): ControlAnswer {
  return httpError(err)
}

const waits = (args: Record<string, string | undefined>): boolean => args.wait === '1' || args.wait === 'true'

/**
 * The admin API's actions, whether they come from a worker (app ports) or the primary's own admin
 * server. Actions answer 202 with the rollout at once; with `wait=1`, its outcome. A wait=1 request
 * served by a worker is answered just before that worker is drained (it is drained last), since a
 * worker cannot drain while it holds the request waiting for its own drain.
 */
export async function handleControl(p: Primary, command: ControlCommand, args: Record<string, string | undefined>, requester?: WorkerSlot): Promise<ControlAnswer> {
  switch (command) {
    case 'ready': {
      const r = readiness(p)
      return { status: r.ready ? 200 : 503, body: r }
    }
    case 'status':
      await p.pool?.collectStats()
      return { status: 200, body: statusOf(p) }
    case 'metrics': {
      if (!p.config?.process.metrics) return { status: 404, body: { error: 'metrics are off' } }
      return { status: 200, body: await aggregate(p.metrics.registry, await p.workerCounts.forScrape()) }
    }
    case 'shutdown':
      setImmediate(() => void p.shutdown('admin'))
      return { status: 200, body: { message: 'server shutdown' } }
    case 'scale': {
      let scaling: { rec: RolloutRecord; done: Promise<RolloutRecord> }
      try {
        // The worker holding a wait=1 request stays: it could not drain while it holds it.
        scaling = startScale(p, args.workers, 'admin', requester)
      } catch (err) {
        return failure(err)
      }
      if (!waits(args)) return { status: 202, body: { message: 'workers scaling', rollout: scaling.rec } }
      try {
        return { status: 200, body: { message: 'workers scaled', rollout: await scaling.done } }
      } catch (err) {
        return failure(err)
      }
    }
    case 'reload':
    case 'restart': {
      const wait = waits(args)
      let early: ((rec: RolloutRecord) => void) | undefined
      const answeredEarly = new Promise<RolloutRecord>((resolve) => (early = resolve))
      let started: { rec: RolloutRecord; done: Promise<RolloutRecord> }
      try {
        const exe = args.newExeFilePath || undefined
        if (command === 'restart' && exe) checkAllowed(exe, p.config?.process.adminExeAllowList ?? [])
        started = startRollout(p, command, 'admin', exe, wait && requester ? { requester, beforeRequesterDrains: early! } : {}, parseCanaryArg(args.canary))
      } catch (err) {
        return failure(err)
      }
      if (!wait) return { status: 202, body: { message: command === 'reload' ? 'server reloading' : 'server restarting', rollout: started.rec } }
      try {
        const rec = await Promise.race([started.done, answeredEarly])
        return { status: 200, body: { message: command === 'reload' ? 'server reloaded' : 'server restarted', rollout: rec } }
      } catch (err) {
        return failure(err)
      }
    }
  }
}
