import { SmoothError } from '../errors.js'
import type { PredecessorFrame, SuccessorFrame } from '../protocol.js'

/**
 * The declared shape of every status-channel frame (protocol.ts has the types): the fields each
 * `t` must carry, and of what kind. A frame is checked against it after the token check, before
 * anyone reads it; one that does not match is a SMOOTH_STATUS_FRAME_INVALID.
 */
type Kind = 'string' | 'number' | 'number?' | 'number|null' | 'object' | 'array' | 'array?' | 'object?'
type Shapes = Record<string, Record<string, Kind>>

const Metrics: Shapes = {
  metricsAsk: { id: 'number' },
  metricsOwn: { id: 'number', metrics: 'array' },
}

/** What the new generation sends the old one. */
export const SuccessorShapes: Shapes = {
  hello: { token: 'string', pid: 'number', generation: 'number' },
  workerReady: { workerPid: 'number' },
  workerDied: { workerPid: 'number', code: 'number|null' },
  ready: {},
  failed: { code: 'string', message: 'string' },
  canary: { view: 'object' },
  ...Metrics,
}

/** What the old generation sends the new one. */
export const PredecessorShapes: Shapes = {
  welcome: { counters: 'object', history: 'array', restart: 'object?', pid: 'number?' },
  retired: { workerPid: 'number|null' },
  handover: { metrics: 'array?' },
  ...Metrics,
}

function fits(value: unknown, kind: Kind): boolean {
  switch (kind) {
    case 'string': return typeof value === 'string'
    case 'number': return typeof value === 'number' && Number.isFinite(value)
    case 'number?': return value === undefined || fits(value, 'number')
    case 'number|null': return value === null || (typeof value === 'number' && Number.isFinite(value))
    case 'object': return typeof value === 'object' && value !== null && !Array.isArray(value)
    case 'object?': return value === undefined || value === null || fits(value, 'object')
    case 'array': return Array.isArray(value)
    case 'array?': return value === undefined || Array.isArray(value)
  }
}

function decode<F>(shapes: Shapes, from: string, frame: { t: string } & Record<string, unknown>): F {
  const shape = Object.hasOwn(shapes, frame.t) ? shapes[frame.t] : undefined
  if (!shape) throw new SmoothError('SMOOTH_STATUS_FRAME_INVALID', from, `unknown frame "${frame.t}"`)
  for (const [field, kind] of Object.entries(shape)) {
    if (!fits(frame[field], kind)) throw new SmoothError('SMOOTH_STATUS_FRAME_INVALID', from, `"${frame.t}" needs ${field}: ${kind}`)
  }
  return frame as unknown as F
}

export const decodeSuccessorFrame = (f: { t: string } & Record<string, unknown>): SuccessorFrame => decode<SuccessorFrame>(SuccessorShapes, 'successor', f)
export const decodePredecessorFrame = (f: { t: string } & Record<string, unknown>): PredecessorFrame => decode<PredecessorFrame>(PredecessorShapes, 'predecessor', f)
