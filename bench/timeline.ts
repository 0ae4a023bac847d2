/**
 * One rollout's latencies in time buckets: the demo app with 2 workers under 50 keep-alive
 * connections (autocannon, in this process), one reload or restart after 4 s of steady load, and
 * for each 100 ms from 200 ms before the signal to 600 ms after the rollout's end, how many answers
 * completed in it and their p50, p99 and max. Shows where in a rollout the slow answers are.
 *
 *   npm run build && KIND=reload node dist/bench/timeline.js   (KIND=restart, WORKERS=n)
 */
import autocannon from 'autocannon'
import { SmoothProcess, dist } from '../test/helpers/proc.js'
import { rolloutBySignal } from '../test/helpers/rollout.js'

const kind = process.env.KIND === 'restart' ? 'restart' : 'reload'
const p = new SmoothProcess(dist('bench/apps/smooth-hello.js'), { WORKERS: process.env.WORKERS ?? '2', GRACEFUL: '1' })
try {
  const port = await p.ready(30_000)
  const samples: Array<[at: number, ms: number]> = []
  const finished = new Promise<void>((resolve) => {
    const inst = autocannon({ url: `http://127.0.0.1:${port}/`, connections: 50, duration: 9, timeout: 5 }, () => resolve())
    inst.on('response', (_c: unknown, _s: number, _b: number, ms: number) => samples.push([Date.now(), ms]))
  })
  await new Promise((r) => setTimeout(r, 4000))
  const t0 = Date.now()
  await rolloutBySignal(p, kind)
  const took = Date.now() - t0
  await finished
  const at = (q: number, xs: number[]): string => xs[Math.min(xs.length - 1, Math.floor(xs.length * q))]!.toFixed(1).padStart(6)
  const steady = samples.filter(([t]) => t > t0 - 3000 && t < t0 - 200).map(([, ms]) => ms).sort((a, b) => a - b)
  console.log(`${kind}: ${took} ms; steady (the 3 s before): p50 ${at(0.5, steady)} p99 ${at(0.99, steady)} ms, ${steady.length} answers`)
  for (let b = -200; b < took + 600; b += 100) {
    const xs = samples.filter(([t]) => t >= t0 + b && t < t0 + b + 100).map(([, ms]) => ms).sort((x, y) => x - y)
    console.log(`${String(b).padStart(6)} ms  n ${String(xs.length).padStart(5)}` + (xs.length ? `  p50 ${at(0.5, xs)}  p99 ${at(0.99, xs)}  max ${xs.at(-1)!.toFixed(1).padStart(6)}` : ''))
  }
} finally {
  p.kill()
}
