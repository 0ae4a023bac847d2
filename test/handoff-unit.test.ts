import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import type { Socket } from 'node:net'
import { once } from 'node:events'
import { spawn } from 'node:child_process'
import { HandOffSender, type TcpHandle } from '../src/worker/handoff.js'
import { heldElsewhere } from '../src/worker/fd-holders.js'
import { KeepAliveConnection } from './helpers/keepalive.js'

/**
 * The sender's rules on a real server and real sockets, in one process (the IPC hop is replaced by
 * keeping the handle: a refused hand-off gives it back, the path that needs no second process).
 */
async function serve(): Promise<{ server: Server; port: number; sockets: Socket[] }> {
  const sockets: Socket[] = []
  const server = createServer((req, res) => res.end(`${req.method} ${req.url}`))
  server.on('connection', (s: Socket) => sockets.push(s))
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return { server, port: (server.address() as { port: number }).port, sockets }
}

test('an idle connection is sent; a request sent meanwhile waits in the kernel, unread, and is answered once it is served again', async () => {
  const { server, port, sockets } = await serve()
  const sent: Array<{ id: number; handle: TcpHandle }> = []
  const sender = new HandOffSender({ send: (id, _server, handle, cb) => { sent.push({ id, handle }); cb(null) }, deadlineMs: 5_000, onHanded: () => {}, onClosed: () => {} })
  const c = await KeepAliveConnection.open(port)
  assert.equal((await c.request('GET', '/one')).body, 'GET /one')
  await new Promise((r) => setTimeout(r, 20))
  const socket = sockets[0]!
  assert.equal(sender.offer(socket, server, 'default'), 'sent')
  assert.ok(socket.destroyed, 'the JS socket is gone from this server')
  // The client's next request goes out now: nobody reads it until the handle is served again.
  const reply = c.request('POST', '/two', '{}')
  await new Promise((r) => setTimeout(r, 100))
  assert.equal(c.closedByServer, false, 'no FIN: detaching closed nothing')
  sender.answered(sent[0]!.id, 'refused')
  assert.equal((await reply).body, 'POST /two')
  assert.equal(sockets.length, 2, 'served again as a new connection of the server')
  // Refused once: never offered again.
  assert.equal(sender.offer(sockets[1]!, server, 'default'), 'no')
  await sender.settled()
  c.close()
  server.close()
})

test('a connection with part of a request read is busy: reading resumes and the request is answered', async () => {
  const { server, port, sockets } = await serve()
  const sender = new HandOffSender({ send: () => assert.fail('a busy connection must not be sent'), deadlineMs: 5_000, onHanded: () => {}, onClosed: () => {} })
  const c = await KeepAliveConnection.open(port)
  assert.equal((await c.request('GET', '/one')).body, 'GET /one')
  const raw = (c as unknown as { socket: Socket }).socket
  raw.write('GET /two HTTP/1.1\r\n')
  await new Promise((r) => setTimeout(r, 50))
  assert.equal(sender.offer(sockets[0]!, server, 'default'), 'busy')
  const answer = new Promise<string>((resolve) => raw.once('data', (d: Buffer) => resolve(d.toString())))
  raw.write('Host: x\r\n\r\n')
  assert.match(await answer, /GET \/two$/)
  c.close()
  server.close()
})

test('a connection whose response is still being written is busy', async () => {
  const { server, port, sockets } = await serve()
  let finish!: () => void
  server.removeAllListeners('request')
  server.on('request', (_req, res) => { res.write('part'); finish = () => res.end() })
  const sender = new HandOffSender({ send: () => assert.fail('a busy connection must not be sent'), deadlineMs: 5_000, onHanded: () => {}, onClosed: () => {} })
  const c = await KeepAliveConnection.open(port)
  const raw = (c as unknown as { socket: Socket }).socket
  raw.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n')
  await new Promise((r) => setTimeout(r, 50))
  assert.equal(sender.offer(sockets[0]!, server, 'default'), 'busy')
  finish()
  c.close()
  server.close()
})

test('no answer in time: our copy is closed and counted as handoff_timeout', async () => {
  const { server, port, sockets } = await serve()
  const closed: string[] = []
  const sender = new HandOffSender({ send: (_id, _s, _h, cb) => cb(null), deadlineMs: 50, onHanded: () => {}, onClosed: (r) => closed.push(r) })
  const c = await KeepAliveConnection.open(port)
  await c.request('GET', '/')
  await new Promise((r) => setTimeout(r, 20))
  assert.equal(sender.offer(sockets[0]!, server, 'default'), 'sent')
  await sender.settled()
  assert.deepEqual(closed, ['handoff_timeout'])
  // Ours was the last copy: the connection ends.
  await new Promise<void>((resolve) => { const t = setInterval(() => { if (c.ended) { clearInterval(t); resolve() } }, 10) })
  server.close()
})

test('the primary gone: a connection still queued, or written but held by no other process, is served here again', async () => {
  const { server, port, sockets } = await serve()
  const closed: string[] = []
  const writes: Array<(err: Error | null) => void> = []
  const sender = new HandOffSender({ send: (_id, _s, _h, cb) => writes.push(cb), deadlineMs: 5_000, onHanded: () => {}, onClosed: (r) => closed.push(r) })
  const queued = await KeepAliveConnection.open(port)
  const written = await KeepAliveConnection.open(port)
  await queued.request('GET', '/')
  await written.request('GET', '/')
  await new Promise((r) => setTimeout(r, 20))
  assert.equal(sender.offer(sockets[1]!, server, 'default'), 'sent')
  assert.equal(sender.offer(sockets[0]!, server, 'default'), 'sent')
  // The second connection's handle went out; the first's is still queued behind it when the channel dies.
  writes[0]!(null)
  const reply = queued.request('GET', '/after')
  await new Promise((r) => setTimeout(r, 50))
  const replyWritten = written.request('GET', '/written')
  await new Promise((r) => setTimeout(r, 50))
  sender.abandon()
  assert.equal((await reply).body, 'GET /after', 'the queued one is served here again')
  assert.equal((await replyWritten).body, 'GET /written', 'the written one reached nobody (no other process holds it): served here again')
  assert.deepEqual(closed, [])
  await sender.settled()
  queued.close()
  written.close()
  server.close()
})

test('heldElsewhere: a socket another process of our group holds is held; once that process is gone, it is ours alone', async () => {
  const { server, port, sockets } = await serve()
  const c = await KeepAliveConnection.open(port)
  await c.request('GET', '/')
  const fd = (sockets[0] as unknown as { _handle: TcpHandle })._handle.fd!
  assert.deepEqual(heldElsewhere([fd]), new Set(), 'nobody else has it yet')
  // A child of ours (same process group) given the socket as its descriptor 3.
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: ['ignore', 'ignore', 'ignore', sockets[0]!] })
  const exited = once(child, 'exit')
  try {
    await once(child, 'spawn')
    assert.deepEqual(heldElsewhere([fd]), new Set([fd]), 'the child holds it')
  } finally {
    child.kill('SIGKILL')
    await exited
  }
  assert.deepEqual(heldElsewhere([fd]), new Set(), 'ours alone again')
  c.close()
  server.close()
})
