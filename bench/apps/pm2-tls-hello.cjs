// The PM2 side of the HTTPS / HTTP/2 rollout benchmark: the same route on plain Fastify with its own
// TLS (PROTOCOL=https: HTTPS/1.1; h2: HTTP/2), run by `pm2 start -i N`, graceful on SIGINT as PM2's
// docs ask, so `pm2 reload` gets its best case.
const { readFileSync } = require('node:fs')
const Fastify = require('fastify')
const https = { cert: readFileSync(process.env.CERT), key: readFileSync(process.env.KEY) }
const app = Fastify({ logger: false, https, ...(process.env.PROTOCOL === 'h2' ? { http2: true } : {}) })
app.get('/', async () => 'hello world')
app.listen({ host: '127.0.0.1', port: Number(process.env.PORT) }).then(() => process.send?.('ready'))
process.on('SIGINT', () => app.close().then(() => process.exit(0)))
