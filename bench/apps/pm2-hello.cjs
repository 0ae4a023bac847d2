// The PM2 side of the rollout benchmark: the same route on plain Fastify, run by `pm2 start -i N`
// (PM2's cluster mode, node:cluster underneath). It closes gracefully on SIGINT, as PM2's docs ask,
// so `pm2 reload` gets its best case.
const Fastify = require('fastify')
const app = Fastify({ logger: false })
app.get('/', async () => 'hello world')
app.listen({ host: '127.0.0.1', port: Number(process.env.PORT) }).then(() => process.send?.('ready'))
process.on('SIGINT', () => app.close().then(() => process.exit(0)))
