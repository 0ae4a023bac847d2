import { performance } from 'node:perf_hooks'
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
 * under-pressure's first sample starts when it is registered, so it spans part of the start-up; one
 * that waited on I/O there reads lower than the work that follows (a worker busy at 0.85 from its
 * start read under 0.75). So the event-loop utilisation is also read here, over exactly each wait,
 * against `maxUtilization` (the lowest maxEventLoopUtilization configured).
 */
export async function whenHealthy(apps: FastifyInstance[], sampleMs: number, maxMs: number, maxUtilization = Infinity): Promise<void> {
  const deadline = Date.now() + maxMs
  for (let waitMs = sampleMs; ; waitMs = Math.min(sampleMs, 100)) {
    const from = performance.eventLoopUtilization()
    await new Promise((r) => setTimeout(r, waitMs))
    const busy = performance.eventLoopUtilization(from).utilization > maxUtilization
    if ((!busy && !underPressure(apps)) || Date.now() >= deadline) return
  }
}
