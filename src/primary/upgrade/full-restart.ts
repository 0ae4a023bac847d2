import { bindAll } from '../listeners.js'
import type { RolloutRecord } from '../rollout.js'
import type { Primary } from '../context.js'

/**
 * Full restart (`fullRestart: true`), first half: stop accepting (the sockets close, new connections
 * are refused), let the workers finish what they have, and free the ports for the successor to bind.
 */
export async function releasePorts(p: Primary, rec: RolloutRecord): Promise<void> {
  p.upgrade.releasePorts()
  rec.progress.step = 'full restart: draining before the successor binds'
  p.log.warn('full restart: new connections are refused until the new generation listens')
  const pool = p.pool!
  pool.stopReplacing()
  const drained = pool.drainAll(p.config.process.gracefulTimeoutMs)
  for (const l of p.listeners) l.close()
  await p.adminServer?.app.close()
  await drained
}

/** Full restart rolled back: bind the same ports again and start workers again. */
export async function takePortsBack(p: Primary): Promise<void> {
  const pool = p.pool!
  try {
    const specs = p.listeners.map((l) => ({ ...l.spec, port: l.port }))
    // Another program may hold a port for a while: keep trying for a bounded time, then give up.
    const deadline = p.os.now() + p.timings.rebindForMs
    for (;;) {
      try {
        p.listeners = await bindAll(specs, {})
        break
      } catch (err) {
        if (p.os.now() > deadline) throw err
        p.log.error({ err: (err as Error).message }, 'full restart rollback: cannot bind yet, retrying')
        // Kept alive: with our sockets and workers gone, this wait may be all the process has left to do.
        await p.os.sleep(p.timings.rebindEveryMs, { keepAlive: true })
      }
    }
    pool.setHandles(p.listeners.map((l) => l.handle))
    if (p.config.process.adminAddress) await p.openAdmin(undefined)
    pool.resumeReplacing()
    pool.refill()
    await pool.whenFull()
    p.log.warn('full restart rolled back: serving again')
  } catch (err) {
    p.fatal(err)
  }
}
