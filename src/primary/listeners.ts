import net from 'node:net'
import util from 'node:util'
import { lookup } from 'node:dns/promises'
import { SmoothError } from '../errors.js'
import type { ListenerSpec } from '../config/resolve.js'
import { displayAddress } from '../config/address.js'
import { EnvNames } from '../env.js'

/**
 * libuv's TCP handle, taken out of the net.Server that bound it.
 *
 * Design: the primary binds (or inherits) every listening socket and keeps it open for its whole
 * life, but never accepts on it: its event loop does not even watch it. Each worker receives a duplicate of the socket over IPC and, once
 * the primary tells it to, accepts from it directly (node:cluster's "shared handle" scheduling, which
 * node:cluster itself cannot do for a worker that listens on a received handle). Consequences:
 *  - no per-connection work in the primary and no IPC message per connection (a hand-off through the
 *    primary cost up to a quarter of the new-connection rate);
 *  - only workers told to accept ever accept, so only ready workers get connections;
 *  - a worker that leaves closes only its duplicate: connections not yet accepted stay in the kernel's
 *    accept queue for the other workers (node:cluster's round-robin handle drops the ones it queued
 *    when its last worker leaves), and the socket stays open for a successor generation.
 */
export interface RawHandle {
  fd: number
  onconnection: ((status: number, client?: RawHandle) => void) | null
  listen(backlog: number): number
  close(cb?: () => void): void
}

export interface Listener {
  spec: ListenerSpec
  /** Bound (and listening once a worker has listened on it); never accepted on in the primary. */
  handle: RawHandle
  /** The address actually bound (the port is known even when port 0 was asked). */
  display: string
  port: number
  closed: boolean
  close(): void
}

/** Inherited listening sockets: listener key -> fd, handed over by the previous generation. */
export const InheritEnv = EnvNames.inheritFds
export function inheritedFds(env = process.env): Record<string, number> {
  const raw = env[InheritEnv]
  return raw ? (JSON.parse(raw) as Record<string, number>) : {}
}

interface SockName { address?: string; port?: number }
type HandleFactory = (address: string | null, port: number, addressType: number, fd?: number) => (RawHandle & { getsockname(out: SockName): number }) | number
/**
 * node:cluster's own way to make a server handle that is bound but not watched by this process's
 * event loop (its SharedHandle uses it): the primary must hold the socket without ever accepting.
 */
const createServerHandle = (net as unknown as { _createServerHandle: HandleFactory })._createServerHandle

/** Binds a listener (or opens an inherited one) without accepting on it in this process. */
export async function bindListener(spec: ListenerSpec, fd?: number): Promise<Listener> {
  const fail = (why: string): SmoothError =>
    new SmoothError('SMOOTH_LISTEN_FAILED', `${fd === undefined ? spec.text : `${spec.text} (inherited fd ${fd})`}: ${why}`)
  let address: string | null = null
  let family = -1
  if (fd === undefined && spec.host) {
    try {
      const found = await lookup(spec.host)
      address = found.address
      family = found.family
    } catch (err) {
      throw fail(`cannot resolve ${spec.host} (${(err as NodeJS.ErrnoException).code})`)
    }
  }
  const handle = fd === undefined ? createServerHandle(address, spec.port, family) : createServerHandle(null, 0, 0, fd)
  if (typeof handle === 'number') throw fail(handle === EADDRINUSE ? IN_USE : errnoName(handle))
  const name: SockName = {}
  // libuv reports a bind's EADDRINUSE late (at listen); getsockname surfaces it now.
  const err = handle.getsockname(name)
  if (err) {
    handle.close()
    throw fail(err === EADDRINUSE ? IN_USE : errnoName(err))
  }
  const port = name.port ?? spec.port
  const listener: Listener = {
    spec, handle, port, display: displayAddress(spec.host, port), closed: false,
    close() {
      if (listener.closed) return
      listener.closed = true
      handle.close()
    },
  }
  return listener
}

const EADDRINUSE = -98
const IN_USE = 'address already in use: another process listens there. Stop it, or choose another port ' +
  '(PORT=8200 or --port 8200 for the examples and `smooth start`, SMOOTH_ADDRESS=:8200, or address in smooth.yaml)'

function errnoName(err: number): string {
  try {
    return util.getSystemErrorName(err)
  } catch {
    return `error ${err}`
  }
}
/** For a full restart: the ports the previous generation had bound (port 0 resolved), by key. */
export const BoundPortsEnv = EnvNames.boundPorts
export function boundPorts(env = process.env): Record<string, number> {
  const raw = env[BoundPortsEnv]
  return raw ? (JSON.parse(raw) as Record<string, number>) : {}
}

/** Binds every listener or none: on failure the ones already bound are closed again. */
export async function bindAll(specs: ListenerSpec[], inherited: Record<string, number>): Promise<Listener[]> {
  const bound: Listener[] = []
  try {
    for (const spec of specs) bound.push(await bindListener(spec, inherited[spec.key]))
  } catch (err) {
    for (const l of bound) l.close()
    throw err
  }
  return bound
}
