import type { MetricsReply, StatsReply } from '../protocol.js'
import type { MetricsJson } from '../metrics/primary-metrics.js'
import { ReplyRouter } from '../wire.js'
import type { WorkerSlot } from './worker-slot.js'
import type { Os } from './os.js'

/** What the requests need of the pool (workers.ts's WorkerPool). */
export interface QueryHost {
  readonly os: Os
  live(): WorkerSlot[]
}

type Reply = StatsReply | MetricsReply

/**
 * The pool's requests to its workers (stats for `status`, registries for a scrape). Each request is
 * matched to its replies by sequence number (wire.ts's ReplyRouter), so two requests in flight —
 * two `status` calls at once, say — never count each other's answers.
 */
export class PoolQueries {
  private readonly replies = new ReplyRouter<Reply>()

  constructor(private readonly pool: QueryHost) {}

  onReply(slot: WorkerSlot, msg: Reply): void {
    // Stats and registries are taken whether or not anyone still waits (a late answer is still news).
    if (msg.act === 'statsReply') slot.stats = msg.stats
    else if (!slot.counted) slot.lastMetrics = msg.metrics
    this.replies.route(msg)
  }

  /** Asks every live worker for its numbers; waits at most `timeoutMs` (a draining or dying worker may not answer). */
  async collectStats(timeoutMs: number): Promise<void> {
    const live = this.pool.live().filter((s) => s.connected)
    if (live.length === 0) return
    await this.ask(live, 'stats', timeoutMs)
  }

  /**
   * Every live worker's metrics registry as JSON; waits at most `timeoutMs`, then takes what came. A
   * worker that did not answer in time is given its counts of the latest scrape, so a slow worker
   * never makes a counter dip. Only ready workers are asked: a booting one has counted nothing yet
   * and a draining one is busy finishing (its final counts come with `drained`), so a scrape never
   * waits on a rollout. The caller drops slots that are `counted` by the time it reads the ledger, so
   * a worker that left meanwhile counts once.
   */
  async collectMetrics(timeoutMs: number): Promise<Array<[WorkerSlot, MetricsJson]>> {
    const known = this.pool.live().filter((s) => !s.counted)
    const live = known.filter((s) => s.state === 'ready' && s.connected)
    const got = new Map<WorkerSlot, MetricsJson>()
    for (const s of known) if (!live.includes(s) && s.lastMetrics) got.set(s, s.lastMetrics)
    if (live.length === 0) return [...got]
    const answers = await this.ask(live, 'metrics', timeoutMs)
    for (const [slot, reply] of answers) if (reply.act === 'metricsReply') got.set(slot, reply.metrics)
    for (const s of live) if (!got.has(s) && s.lastMetrics) got.set(s, s.lastMetrics)
    return [...got]
  }

  /** Sends one request to each slot; resolves with the replies that came within `timeoutMs`. */
  private async ask(slots: WorkerSlot[], act: 'stats' | 'metrics', timeoutMs: number): Promise<Map<WorkerSlot, Reply>> {
    const answers = new Map<WorkerSlot, Reply>()
    const forget: Array<() => void> = []
    await Promise.race([
      new Promise<void>((resolve) => {
        for (const slot of slots) {
          forget.push(this.replies.expect(slot.send({ act }), (reply) => {
            answers.set(slot, reply)
            if (answers.size === slots.length) resolve()
          }))
        }
      }),
      this.pool.os.sleep(timeoutMs),
    ])
    for (const f of forget) f()
    return answers
  }
}
