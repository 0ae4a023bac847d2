import type { SmoothError } from '../../src/errors.js'

/** The `SMOOTH_*` code `fn` throws, or undefined when it does not throw: tests compare codes, never messages. */
export function codeOf(fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (err) {
    return (err as SmoothError).code
  }
  return undefined
}
