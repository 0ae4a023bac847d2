/**
 * Every message between a primary and its workers, in one place (node's `internal/cluster` style).
 * Messages are plain JSON objects tagged `smooth: 1` so they never mix with the user's own
 * `process.send` traffic, and discriminated on `act`.
 *
 * Life of a worker:
 *   primary --listen{listener} + listening socket handle--> worker   (once per listener, after fork)
 *   worker  --ready------------------------------------------> primary (apps built, handles received)
 *   primary --accept-----------------------------------------> worker  (start accepting connections)
 *   worker  --accepting--------------------------------------> primary (its listen() is done)
 *   primary --drain{timeoutMs}-------------------------------> worker  (stop accepting, finish, exit)
 *   worker  --drained{forced}--------------------------------> primary (then the worker exits 0)
 *
 * The listening sockets stay open in the primary the whole time; a worker accepts from its own
 * duplicate of each, so there is no per-connection message at all (see primary/listeners.ts).
 */

export const TAG = 1 as const

export type ControlCommand = 'shutdown' | 'reload' | 'restart' | 'status'

// primary -> worker
export interface ListenMessage { smooth: typeof TAG; act: 'listen'; listener: number }
export interface AcceptMessage { smooth: typeof TAG; act: 'accept' }
export interface DrainMessage { smooth: typeof TAG; act: 'drain'; timeoutMs: number }
export interface ControlReplyMessage {
  smooth: typeof TAG; act: 'controlReply'; id: number
  ok: boolean; status: number; body: unknown
}
export type ToWorker = ListenMessage | AcceptMessage | DrainMessage | ControlReplyMessage

// worker -> primary
export interface ReadyMessage { smooth: typeof TAG; act: 'ready' }
export interface AcceptingMessage { smooth: typeof TAG; act: 'accepting' }
export interface ControlMessage {
  smooth: typeof TAG; act: 'control'; id: number; command: ControlCommand
  args: Record<string, string | undefined>
}
export interface DrainedMessage { smooth: typeof TAG; act: 'drained'; forced: number }
export type FromWorker = ReadyMessage | AcceptingMessage | ControlMessage | DrainedMessage

export function isSmoothMessage<T extends { smooth: typeof TAG }>(msg: unknown): msg is T {
  return typeof msg === 'object' && msg !== null && (msg as { smooth?: unknown }).smooth === TAG
}
