/**
 * The baseline: plain node:cluster (its default round-robin scheduling on Linux) with one Fastify
 * per worker, the same route and the same worker count as the Smooth benchmark app.
 */
import cluster from 'node:cluster'
import Fastify from 'fastify'

const workers = Number(process.env.WORKERS ?? 2)
if (cluster.isPrimary) {
  for (let i = 0; i < workers; i++) cluster.fork()
  let listening = 0
  cluster.on('listening', (_w, addr) => {
    if (++listening === workers) console.log(JSON.stringify({ msg: 'server ready', port: addr.port, pid: process.pid }))
  })
  process.on('SIGTERM', () => {
    for (const w of Object.values(cluster.workers ?? {})) w?.kill()
    process.exit(0)
  })
} else {
  const app = Fastify({ logger: false })
  app.get('/', async () => 'hello world')
  await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0) })
}
