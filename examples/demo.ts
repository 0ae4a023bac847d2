/**
 * The seed's Example 1: graceful on, admin on, port 8199, routes /, /pid and /sleep.
 * Environment: PORT (8199), HOST (every interface), WORKERS (one per core), PID_FILE.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { server } from 'smooth-runtime'

const s = server()
s.bindHandler('/', async () => 'Hello!\n')
s.bindHandler('/pid', async () => `${process.pid}\n`)
s.bindHandler('/sleep', async (req, reply) => {
  const ms = Number((req.query as { ms?: string }).ms ?? 10_000)
  reply.raw.writeHead(200, { 'content-type': 'text/plain' })
  reply.raw.write(`${process.pid}\n`)
  await sleep(Number.isFinite(ms) && ms >= 0 ? ms : 10_000)
  reply.raw.end(`${process.pid}\n`)
  return reply
})
s.setGraceful(true)
s.enableAdmin()
s.setAddress(`${process.env.HOST ?? ''}:${process.env.PORT ?? 8199}`)
if (process.env.WORKERS) s.setWorkers(Number(process.env.WORKERS))
if (process.env.PID_FILE) s.setConfig({ pidFile: process.env.PID_FILE })
await s.run()
