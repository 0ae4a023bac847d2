/**
 * Hello-world on Smooth at its default settings, as the demo runs it (graceful on, admin on, metrics
 * on, under-pressure registered), for the benchmarks. WORKERS workers on 127.0.0.1:PORT (0: any).
 * GRACEFUL=0 turns rollouts off; every other setting is left to its default (SMOOTH_* to change one).
 */
import { server } from '../../src/index.js'

const s = server()
s.bindHandler('/', async () => 'hello world')
s.setAddress(`127.0.0.1:${process.env.PORT ?? 0}`)
s.setWorkers(Number(process.env.WORKERS ?? 2))
s.setGraceful(process.env.GRACEFUL !== '0')
s.enableAdmin()
await s.run()
