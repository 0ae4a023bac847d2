import { SmoothError } from '../errors.js'
import type { CanaryConfig } from '../config/keys.js'
import { checkSettings } from '../config/schema.js'
import { canarySettings } from '../config/resolve.js'
import { CanaryReasons, type CanaryReason, type CanarySettings } from './canary.js'

/** How a rollout asks for a canary: true (the configured settings), false (none), or settings over them. */
export type CanaryRequest = boolean | CanaryConfig

/** The canary a rollout runs, if any: asked for, or every rollout's when `canary.enabled` is on. */
export function canaryFor(configured: { enabled: boolean; settings: CanarySettings }, request: CanaryRequest | undefined): CanarySettings | undefined {
  const wanted = request ?? configured.enabled
  if (wanted === false) return undefined
  if (wanted === true) return configured.settings
  checkSettings({ canary: wanted }, 'the rollout\'s canary settings')
  return canarySettings(wanted, configured.settings)
}

/** The admin API's `canary` argument: 1/true, 0/false, or a JSON object of settings. */
export function parseCanaryArg(arg: string | undefined): CanaryRequest | undefined {
  if (arg === undefined || arg === '') return undefined
  if (arg === '1' || arg === 'true') return true
  if (arg === '0' || arg === 'false') return false
  let parsed: unknown
  try {
    parsed = JSON.parse(arg)
  } catch {
    throw new SmoothError('SMOOTH_ADMIN_BAD_REQUEST', 'canary must be 1, 0 or a JSON object of canary settings')
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new SmoothError('SMOOTH_ADMIN_BAD_REQUEST', 'canary must be 1, 0 or a JSON object of canary settings')
  try {
    checkSettings({ canary: parsed }, 'the canary argument')
  } catch (err) {
    throw new SmoothError('SMOOTH_ADMIN_BAD_REQUEST', (err as Error).message)
  }
  return parsed as CanaryConfig
}

/** The `reason` label of a canary's rollback, from its error code (undefined: not a canary's). */
export function canaryReasonOf(code: string | undefined): CanaryReason | undefined {
  return (Object.keys(CanaryReasons) as CanaryReason[]).find((r) => CanaryReasons[r] === code)
}
