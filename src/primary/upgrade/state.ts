import { SmoothError } from '../../errors.js'
import type { Generation } from '../anchor-link.js'

/**
 * The restart (a new primary generation) as one state machine: this file is the list of its states
 * and of every transition between them. Both ends of a restart run it, each in its own process: the
 * old generation goes down the old-side path, its successor down the new-side path. The invariant
 * (tableflip's): at most two generations at once, at most one of them not yet live; and at most
 * N + surge workers of both together (the new side starts one worker per old one retired).
 *
 *   old side (old-side.ts, handshake.ts, full-restart.ts):
 *     idle -releasePorts-> releasingPorts             (full restart only: the successor binds anew)
 *     idle | releasingPorts -spawn-> spawning -spawned-> awaitingHello -greet-> rolling
 *     rolling -successorReady-> settling -collectCounts-> handingOver -handOver-> handedOver (then retire)
 *     any of releasingPorts..handingOver -rollBack-> rollingBack -rolledBack-> idle
 *   new side (new-side.ts):
 *     idle -join-> joining -welcomed-> replacing -replaced-> awaitingHandover
 *     joining | replacing | awaitingHandover -takeOver-> idle   (handed over, predecessor gone, or stopping)
 *
 * A transition asked for in any other state is a bug, and throws SMOOTH_UPGRADE_ILLEGAL_TRANSITION.
 */
export type UpgradeState =
  /** No restart in progress: this generation serves on its own. */
  | 'idle'
  /** Full restart: our workers drain and our sockets close, so the successor can bind the ports. */
  | 'releasingPorts'
  /** The successor process is being started (by the anchor, or directly). */
  | 'spawning'
  /** It runs; it has not said hello on the status channel yet. */
  | 'awaitingHello'
  /** Its workers start one by one; one of ours retires for each that accepts. */
  | 'rolling'
  /** It said ready (all its workers accept; all ours have retired); it is watched a moment before it gets the service. */
  | 'settling'
  /** Our workers' final counts are gathered for the handover frame. */
  | 'handingOver'
  /** The successor is live; this generation retires (final). */
  | 'handedOver'
  /** The restart failed: the successor is stopped, then our service restored. */
  | 'rollingBack'
  /** New side: connected to the predecessor, waiting for its welcome. */
  | 'joining'
  /** New side: our workers start, one of the predecessor's retiring for each. */
  | 'replacing'
  /** New side: all ours accept; waiting for the predecessor's handover. */
  | 'awaitingHandover'

const OldSideActive = ['releasingPorts', 'spawning', 'awaitingHello', 'rolling', 'settling', 'handingOver'] as const
const NewSideActive = ['joining', 'replacing', 'awaitingHandover'] as const

/** Every transition: the states it may start from, and the state it leads to. */
export const Transitions = {
  releasePorts: { from: ['idle'], to: 'releasingPorts' },
  spawn: { from: ['idle', 'releasingPorts'], to: 'spawning' },
  spawned: { from: ['spawning'], to: 'awaitingHello' },
  greet: { from: ['awaitingHello'], to: 'rolling' },
  successorReady: { from: ['rolling'], to: 'settling' },
  collectCounts: { from: ['settling'], to: 'handingOver' },
  handOver: { from: ['handingOver'], to: 'handedOver' },
  rollBack: { from: OldSideActive, to: 'rollingBack' },
  rolledBack: { from: ['rollingBack'], to: 'idle' },
  join: { from: ['idle'], to: 'joining' },
  welcomed: { from: ['joining'], to: 'replacing' },
  replaced: { from: ['replacing'], to: 'awaitingHandover' },
  takeOver: { from: NewSideActive, to: 'idle' },
} as const satisfies Record<string, { from: readonly UpgradeState[]; to: UpgradeState }>

export type Transition = keyof typeof Transitions

/**
 * The one owner of a restart's state. Each transition is a method of its own name; the successor in
 * play is known from `spawned` until the restart is rolled back (a handed-over one stays known: the
 * retiring generation still reports it).
 */
export class Upgrade {
  private current: UpgradeState = 'idle'
  /** The states this restart went through (from the last `idle`): a rollback asks whether ports were let go. */
  private path: UpgradeState[] = []
  private child: Generation | undefined
  /** The old side's restart while it runs: a shutdown waits for it to unwind. */
  running: Promise<void> | undefined
  /**
   * New side, once handed over: the previous generation's pid (its welcome says it), until seen gone.
   * It still exits after the handover (closing its listeners, its last log line); a restart asked for
   * meanwhile waits for that (old-side.ts), so that there are never three generations.
   */
  predecessorPid: number | undefined
  /** Called with every transition (logs, tests). */
  onTransition: ((name: Transition, from: UpgradeState, to: UpgradeState) => void) | undefined

  get state(): UpgradeState {
    return this.current
  }

  get successor(): Generation | undefined {
    return this.child
  }

  get idle(): boolean {
    return this.current === 'idle'
  }

  /** Whether this restart went through `state` (since it left idle). */
  visited(state: UpgradeState): boolean {
    return this.path.includes(state)
  }

  releasePorts(): void { this.go('releasePorts') }
  spawn(): void { this.go('spawn') }
  spawned(child: Generation): void {
    this.go('spawned')
    this.child = child
  }
  greet(): void { this.go('greet') }
  successorReady(): void { this.go('successorReady') }
  collectCounts(): void { this.go('collectCounts') }
  handOver(): void { this.go('handOver') }
  rollBack(): void {
    this.go('rollBack')
    this.child = undefined
  }
  rolledBack(): void { this.go('rolledBack') }
  join(): void { this.go('join') }
  welcomed(): void { this.go('welcomed') }
  replaced(): void { this.go('replaced') }
  takeOver(): void { this.go('takeOver') }

  private go(name: Transition): void {
    const { from, to } = Transitions[name]
    const was = this.current
    if (!(from as readonly UpgradeState[]).includes(was)) throw new SmoothError('SMOOTH_UPGRADE_ILLEGAL_TRANSITION', name, was)
    if (was === 'idle') this.path = []
    this.path.push(to)
    this.current = to
    this.onTransition?.(name, was, to)
  }
}
