/**
 * Every message between a primary and its workers, in one place (node's `internal/cluster` style).
 * Messages are plain JSON objects tagged `smooth: 1` so they never mix with the user's own
 * `process.send` traffic, and discriminated on `act`.
 *
 * Connection hand-off (the hot path):
 *   primary --conn{seq, listener} + raw TCP handle--> worker
 *   worker  --connAck{seq, accepted}----------------> primary  (the primary closes its copy of the
 *           handle on accept, or gives it to another worker on refusal or when the worker died)
 */

export const TAG = 1 as const

export type ControlCommand = 'shutdown' | 'reload' | 'restart' | 'status'

// primary -> worker
export interface ConnMessage { smooth: typeof TAG; act: 'conn'; seq: number; listener: number }
export interface DrainMessage { smooth: typeof TAG; act: 'drain'; timeoutMs: number }
export interface ControlReplyMessage {
  smooth: typeof TAG; act: 'controlReply'; id: number
  ok: boolean; status: number; body: unknown
}
export type ToWorker = ConnMessage | DrainMessage | ControlReplyMessage

// worker -> primary
export interface ReadyMessage { smooth: typeof TAG; act: 'ready' }
export interface ConnAckMessage { smooth: typeof TAG; act: 'connAck'; seq: number; accepted: boolean }
export interface ControlMessage {
  smooth: typeof TAG; act: 'control'; id: number; command: ControlCommand
  args: Record<string, string | undefined>
}
export interface DrainedMessage { smooth: typeof TAG; act: 'drained'; forced: number }
export type FromWorker = ReadyMessage | ConnAckMessage | ControlMessage | DrainedMessage

export function isSmoothMessage<T extends { smooth: typeof TAG }>(msg: unknown): msg is T {
  return typeof msg === 'object' && msg !== null && (msg as { smooth?: unknown }).smooth === TAG
}
