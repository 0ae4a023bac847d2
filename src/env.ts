import { EnvNames } from './wire.js'

/** The names live in the wire module (src/wire.ts) with the rest of what processes hand each other. */
export { EnvNames }

export const env = {
  role(): 'worker' | 'primary' | undefined {
    const r = process.env[EnvNames.role]
    return r === 'worker' || r === 'primary' ? r : undefined
  },
  generation(): number {
    const n = Number(process.env[EnvNames.generation])
    return Number.isInteger(n) && n > 0 ? n : 1
  },
  servers(): string[] {
    return (process.env[EnvNames.servers] ?? '').split(',').filter(Boolean)
  },
  workerId(): number {
    return Number(process.env[EnvNames.workerId] ?? 0)
  },
}

/** The listener table a primary hands its workers: index -> server name and protocol. */
export interface ListenerRef { index: number; server: string; protocol: 'http' | 'https' }
export const ListenersEnv = EnvNames.listeners
export function listenerTable(): ListenerRef[] {
  const raw = process.env[ListenersEnv]
  return raw ? (JSON.parse(raw) as ListenerRef[]) : []
}
