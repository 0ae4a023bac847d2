/**
 * Signals the primary answers. SIGUSR1 must be handled before anything else: until a process handles
 * it, Node starts its inspector on SIGUSR1. SIGKILL cannot be caught.
 */
export const ShutdownSignals = ['SIGINT', 'SIGTERM', 'SIGQUIT', 'SIGHUP'] as const
export const RestartSignal = 'SIGUSR1'
export const ReloadSignal = 'SIGUSR2'

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
  else if ((ShutdownSignals as readonly string[]).includes(signal)) actions.shutdown(signal)
}

export function installSignals(actions: SignalActions): () => void {
  const handlers: Array<[NodeJS.Signals, () => void]> = [
    ...ShutdownSignals.map((s) => [s, () => actions.shutdown(s)] as [NodeJS.Signals, () => void]),
    [RestartSignal, () => actions.restart(RestartSignal)],
    [ReloadSignal, () => actions.reload(ReloadSignal)],
    ['SIGTTIN', () => actions.scale('+1', 'SIGTTIN')],
    ['SIGTTOU', () => actions.scale('-1', 'SIGTTOU')],
  ]
  for (const [sig, fn] of handlers) process.on(sig, fn)
  return () => {
    for (const [sig, fn] of handlers) process.off(sig, fn)
  }
}
