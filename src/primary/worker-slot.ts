import type { ToWorker, WorkerStats } from '../protocol.js'
import type { MetricsJson } from '../metrics/primary-metrics.js'
import { send, type Unsent } from '../wire.js'
import type { RawHandle } from './listeners.js'
import type { Os, WorkerProcess } from './os.js'

export type WorkerState = 'starting' | 'ready' | 'draining' | 'dead'

/**
 * One worker process as the primary sees it. Its state is one value, never a set of flags:
 * starting (forked, building its apps) -> ready (accepting connections) -> draining -> dead.
 */
export class WorkerSlot {
  state: WorkerState = 'starting'
  readonly startedAt: number
  readyAt: number | undefined
  forced = 0
  exitCode: number | null = null
  /** Died without being asked to (not after a drain). */
  crashed = false
  stats: WorkerStats | undefined
  /** Its registry as of the latest scrape, and whether its counts went to the ledger already. */
  lastMetrics: MetricsJson | undefined
  counted = false
  /** Over its under-pressure limits, and whether it was told to stop accepting for it. */
  underPressure = false
  paused = false
  /** When its event loop last answered the heartbeat (see watchdog.ts), and whether that is recent. */
  lastSeen: number
  responding = true
  /** Requests answered, as of its last heartbeat (counted only with maxWorkerRequests). */
  requests = 0
  /** Killed by the primary because it stopped answering ('timeout'), not crashed on its own. */
  killedFor: 'timeout' | undefined
  /** Connections its drain handed over and closed (by reason), as it reported them. */
  handOff: { handedOver: number; closed: Record<string, number> } | undefined
  readonly exited: Promise<void>
  private markExited!: () => void

  constructor(readonly id: number, readonly proc: WorkerProcess, os: Pick<Os, 'now'>) {
    this.startedAt = os.now()
    this.lastSeen = this.startedAt
    this.exited = new Promise((r) => (this.markExited = r))
  }

  get pid(): number {
    return this.proc.pid!
  }

  get connected(): boolean {
    return this.proc.connected
  }

  /** Sends a message (tagged, numbered: wire.ts); returns its sequence number. */
  send(msg: Unsent<ToWorker>, handle?: RawHandle, cb?: (err: Error | null) => void): number {
    if (!this.proc.connected) {
      cb?.(new Error('worker disconnected'))
      return 0
    }
    return send<ToWorker>(this.proc, msg, handle, cb)
  }

  kill(signal: NodeJS.Signals): void {
    this.proc.kill(signal)
  }

  exit(code: number | null): void {
    this.state = 'dead'
    this.exitCode = code
    this.markExited()
  }
}
