/** Hello-world on Smooth, for the benchmarks. WORKERS workers on 127.0.0.1:0. */
import { server } from '../../src/index.js'

const s = server()
s.bindHandler('/', async () => 'hello world')
s.setAddress('127.0.0.1:0')
s.setWorkers(Number(process.env.WORKERS ?? 2))
if (process.env.GRACEFUL === '1') s.setGraceful(true)
await s.run()
