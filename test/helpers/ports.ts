import { createServer, type AddressInfo } from 'node:net'

/** A port free on 127.0.0.1 right now (for commands that need one given on their command line). */
export async function freePort(): Promise<number> {
  const s = createServer().listen(0, '127.0.0.1')
  await new Promise((r) => s.once('listening', r))
  const port = (s.address() as AddressInfo).port
  await new Promise((r) => s.close(r))
  return port
}
