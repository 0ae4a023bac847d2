import { ShutdownSignals, RestartSignal, ReloadSignal, ScaleSignals, isShutdownSignal } from '../wire.js'

/**
 * Signals the primary answers (the lists: src/wire.ts). SIGUSR1 must be handled before anything
 * else: until a process handles it, Node starts its inspector on SIGUSR1. SIGKILL cannot be caught.
 */
export { ShutdownSignals, RestartSignal, ReloadSignal }

export interface SignalActions {
  shutdown(signal: string): void
  restart(signal: string): void
  reload(signal: string): void
  /** SIGTTIN adds a worker, SIGTTOU removes one (Unicorn's signals). */
  scale(change: string, signal: string): void
}

/** Acts on a signal as if this process had received it (one a worker forwarded). */
export function dispatchSignal(actions: SignalActions, signal: string): void {
  if (signal === RestartSignal) actions.restart(signal)
  else if (signal === ReloadSignal) actions.reload(signal)
  else if (isShutdownSignal(signal)) actions.shutdown(signal)
}

export function installSignals(actions: SignalActions): () => void {
  const handlers: Array<[NodeJS.Signals, () => void]> = [
    ...ShutdownSignals.map((s) => [s, () => actions.shutdown(s)] as [NodeJS.Signals, () => void]),
    [RestartSignal, () => actions.restart(RestartSignal)],
    [ReloadSignal, () => actions.reload(ReloadSignal)],
    ...Object.entries(ScaleSignals).map(([s, change]) => [s, () => actions.scale(change, s)] as [NodeJS.Signals, () => void]),
  ]
  for (const [sig, fn] of handlers) process.on(sig, fn)
  return () => {
    for (const [sig, fn] of handlers) process.off(sig, fn)
  }
}
