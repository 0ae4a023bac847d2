import type { FastifyInstance } from 'fastify'

/**
 * A worker's health as @fastify/under-pressure sees it, for the primary: a worker under pressure
 * stops accepting new connections while another worker is healthy (its open connections go on, and
 * what still reaches it is shed with 503 + Retry-After), and a new worker takes no connection before
 * it is healthy.
 */
type PressureApp = FastifyInstance & { isUnderPressure?: () => boolean }

export function underPressure(apps: FastifyInstance[]): boolean {
  return apps.some((a) => (a as PressureApp).isUnderPressure?.() === true)
}

/** Calls `onChange` whenever the worker goes under pressure or recovers; returns a stop function. */
export function watchPressure(apps: FastifyInstance[], everyMs: number, onChange: (under: boolean) => void): () => void {
  let last = false
  const timer = setInterval(() => {
    const now = underPressure(apps)
    if (now !== last) {
      last = now
      onChange(now)
    }
  }, everyMs)
  timer.unref()
  return () => clearInterval(timer)
}

/**
 * Resolves once the apps have had one full sample and are not under pressure, or after `maxMs`
 * (a worker that never gets healthy is still started: shedding is better than no worker at all).
 */
export async function whenHealthy(apps: FastifyInstance[], sampleMs: number, maxMs: number): Promise<void> {
  const deadline = Date.now() + maxMs
  await new Promise((r) => setTimeout(r, sampleMs))
  while (underPressure(apps) && Date.now() < deadline) await new Promise((r) => setTimeout(r, Math.min(sampleMs, 100)))
}
