import { createServer, type AddressInfo } from 'node:net'
import { SmoothError } from '../errors.js'
import type { ListenerSpec } from '../config/resolve.js'
import { displayAddress } from '../config/address.js'

/**
 * libuv's TCP handle as node:cluster's round-robin handle uses it: taking it out of the net.Server
 * means accepted connections arrive as raw handles, never wrapped in a JS Socket in the primary (the
 * wrapping is what made a naive hand-off cost a quarter of the connection rate).
 */
export interface RawHandle {
  fd: number
  onconnection: ((status: number, client?: RawHandle) => void) | null
  close(cb?: () => void): void
}

export interface Listener {
  spec: ListenerSpec
  handle: RawHandle
  /** The address actually bound (the port is known even when port 0 was asked). */
  display: string
  port: number
}

/** Inherited listening sockets: listener key -> fd, handed over by the previous generation. */
export const InheritEnv = 'SMOOTH_INHERIT_FDS'
export function inheritedFds(env = process.env): Record<string, number> {
  const raw = env[InheritEnv]
  return raw ? (JSON.parse(raw) as Record<string, number>) : {}
}

export async function bindListener(spec: ListenerSpec, fd?: number): Promise<Listener> {
  const server = createServer()
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve)
    server.once('error', (err: NodeJS.ErrnoException) => {
      const what = fd === undefined ? spec.text : `${spec.text} (inherited fd ${fd})`
      const why = err.code === 'EADDRINUSE' ? 'address already in use' : err.code ?? err.message
      reject(new SmoothError('SMOOTH_LISTEN_FAILED', `${what}: ${why}`))
    })
    if (fd !== undefined) server.listen({ fd })
    else server.listen({ host: spec.host, port: spec.port, backlog: 511 })
  })
  const addr = server.address() as AddressInfo
  const internal = server as unknown as { _handle: RawHandle | null }
  const handle = internal._handle!
  internal._handle = null
  return { spec, handle, port: addr.port, display: displayAddress(spec.host, addr.port) }
}

/** Binds every listener or none: on failure the ones already bound are closed again. */
export async function bindAll(specs: ListenerSpec[], inherited: Record<string, number>): Promise<Listener[]> {
  const bound: Listener[] = []
  try {
    for (const spec of specs) bound.push(await bindListener(spec, inherited[spec.key]))
  } catch (err) {
    for (const l of bound) l.handle.close()
    throw err
  }
  return bound
}
