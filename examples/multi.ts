/**
 * The seed's Example 3: two servers, four ports, one set of workers, managed together.
 * http://127.0.0.1:8100/debug/admin/shutdown stops both. PORTS=a,b,c,d and HOST override the ports.
 */
import { server, wait } from 'smooth-runtime'

const [p1, p2, p3, p4] = (process.env.PORTS ?? '8100,8200,8300,8400').split(',')
const host = process.env.HOST ?? ''

const s1 = server('s1')
s1.bindHandler('/', async () => 's1\n')
s1.bindHandler('/pid', async () => `${process.pid}\n`)
s1.setGraceful(true)
s1.enableAdmin()
s1.setAddress([`${host}:${p1}`, `${host}:${p2}`])
void s1.start()

const s2 = server('s2')
s2.bindHandler('/', async () => 's2\n')
s2.bindHandler('/pid', async () => `${process.pid}\n`)
s2.setGraceful(true)
s2.enableAdmin()
s2.setAddress([`${host}:${p3}`, `${host}:${p4}`])
void s2.start()

await wait()
