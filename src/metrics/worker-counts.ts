import type { MetricsFrame } from '../protocol.js'
import { Ledger, sumDumps } from './ledger.js'
import { carriedOnly } from './carried.js'
import { MetricsPeer } from './peer.js'
import type { MetricsJson } from './primary-metrics.js'

/** What the pool answers when asked for its workers' registries: each with its slot. */
export type WorkerDumps = Array<[{ readonly counted: boolean }, unknown[]]>

const METRICS_FRAMES = new Set(['metricsAsk', 'metricsOwn'])

/**
 * Everything the workers of this generation — and of every earlier one — have counted, as one scrape
 * must report it: the live workers' registries, the ledger of workers that are gone, and, while a
 * restart overlaps two generations, the other generation's counts. Its states:
 *
 *   alone --connect--> overlapping --tookOver (successor: final counts arrived)--> alone
 *                                   --handOver (old side: our final counts out)--> alone
 *                                   --lost (the other side went away)-----------> alone
 *
 * On leaving `overlapping` the other side's counts move into the ledger, so they go on being counted.
 */
export class WorkerCounts {
  private readonly ledger = new Ledger()
  private peer: MetricsPeer | undefined

  constructor(private readonly collect: () => Promise<WorkerDumps>, private readonly peerWaitMs: number) {}

  /** A worker's last counts (its final ones, or those of the latest scrape if it died). */
  workerGone(final: unknown): void {
    this.ledger.add(final)
  }

  /** A restart's other side is on the status channel: we answer its asks and ask it when scraped. */
  connect(send: (f: MetricsFrame) => void): void {
    this.peer = new MetricsPeer(send, () => this.own())
  }

  /** Takes a metrics frame off the status channel; false for any other frame. */
  onFrame(f: { t: string } & Record<string, unknown>): boolean {
    if (!METRICS_FRAMES.has(f.t)) return false
    // After the overlap a late frame is dropped: its counts are in the ledger already.
    this.peer?.onFrame(f)
    return true
  }

  /** Successor side: the old generation handed over its final counts. */
  tookOver(final: unknown): void {
    this.ledger.add(final)
    this.peer = undefined
  }

  /** Old side, at the handover: our final counts for the successor; we keep its last ones meanwhile. */
  async handOver(): Promise<MetricsJson> {
    const peer = this.peer
    this.peer = undefined
    const final = await this.own()
    if (peer) this.ledger.add(peer.last)
    return final
  }

  /** The other side went away without a handover: what it had counted stays, as of its last answer. */
  lost(): void {
    if (!this.peer) return
    this.ledger.add(this.peer.last)
    this.peer = undefined
  }

  /** The other generation's own counts now (a restart's canary compares with them); [] without one. */
  async peerCounts(): Promise<MetricsJson> {
    return (await this.peer?.ask(this.peerWaitMs)) ?? []
  }

  /** The dumps one scrape sums: gone workers, the other generation, the live workers. */
  async forScrape(): Promise<MetricsJson[]> {
    const { gone, workers, peer } = await this.parts(true)
    return [...gone, ...peer, ...workers]
  }

  /** This generation's own counts (gone and live workers), as the other generation is told them. */
  async own(): Promise<MetricsJson> {
    const { gone, workers } = await this.parts(false)
    return sumDumps([...gone, ...workers.map(carriedOnly)])
  }

  /**
   * The three parts are taken in one synchronous step after every answer is in: a worker that left,
   * or a handover that happened, while we waited is in the ledger and is dropped from the other
   * parts, so nothing counts twice or goes missing.
   */
  private async parts(withPeer: boolean): Promise<{ gone: MetricsJson[]; workers: MetricsJson[]; peer: MetricsJson[] }> {
    const asked = withPeer ? this.peer : undefined
    const [answers, peerCounts] = await Promise.all([this.collect(), asked?.ask(this.peerWaitMs) ?? []])
    const gone = this.ledger.snapshot()
    const workers = answers.filter(([slot]) => !slot.counted).map(([, m]) => m as MetricsJson)
    const peer = asked && this.peer === asked && peerCounts.length > 0 ? [peerCounts] : []
    return { gone, workers, peer }
  }
}
