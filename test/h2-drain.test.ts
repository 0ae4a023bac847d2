import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { connect, constants, createServer as createH2Server, type ServerHttp2Stream } from 'node:http2'
import { createServer as createTlsServer, type TLSSocket } from 'node:tls'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import { FramedSocket } from '../src/worker/h2-frames.js'
import { Http2Sessions } from '../src/worker/h2-drain.js'
import { selfSignedCertificate } from './helpers/tls-load.js'
import { requires } from './helpers/requires.js'

const root = mkdtempSync(join(tmpdir(), 'smooth-h2-drain-'))
after(() => rmSync(root, { recursive: true, force: true }))

/**
 * With surge > 1 several workers drain at once, and a client leaving one of them reconnects to another
 * whose drain starts during its TLS handshake: its session arrives at a draining worker. Real TLS
 * sockets, Node's HTTP/2 server and client, the worker's frame tap and drain; no processes.
 */
test('an HTTP/2 session that arrives while draining gets SETTINGS first, then the graceful GOAWAY: no protocol error, its stream served or refused for a retry', { timeout: 20_000, ...requires('openssl') }, async () => {
  const { cert, key } = selfSignedCertificate(root)
  const h2 = createH2Server()
  h2.on('stream', (stream: ServerHttp2Stream) => {
    stream.respond({ ':status': 200 })
    stream.end('ok')
  })
  let refusedByServer = 0
  const sessions = new Http2Sessions(h2, () => refusedByServer++)
  sessions.drain()
  const tls = createTlsServer({ cert: readFileSync(cert), key: readFileSync(key), ALPNProtocols: ['h2'] })
  tls.on('secureConnection', (s: TLSSocket) => h2.emit('connection', new FramedSocket(s)))
  await new Promise<void>((r) => tls.listen(0, '127.0.0.1', r))
  const { port } = tls.address() as AddressInfo
  try {
    for (let i = 0; i < 5; i++) {
      const client = connect(`https://127.0.0.1:${port}`, { rejectUnauthorized: false })
      const errors: string[] = []
      client.on('error', (err: Error & { code?: string }) => errors.push(`${err.code}: ${err.message}`))
      const goaways: number[] = []
      client.on('goaway', (code: number) => goaways.push(code))
      const outcome = await new Promise<string>((resolve) => {
        const req = client.request({ ':path': '/' })
        let status = 0
        req.on('response', (h) => { status = Number(h[':status']) })
        req.resume()
        req.on('end', () => resolve(`status ${status}`))
        req.on('error', () => resolve(req.rstCode === constants.NGHTTP2_REFUSED_STREAM ? 'refused' : `rst ${req.rstCode}`))
      })
      await new Promise((r) => client.once('close', r))
      assert.deepEqual(errors, [], `session ${i}: errors on the client's session`)
      assert.ok(outcome === 'status 200' || outcome === 'refused', `session ${i}: stream ${outcome}`)
      assert.ok(goaways.length > 0 && goaways.every((c) => c === constants.NGHTTP2_NO_ERROR), `session ${i}: GOAWAY codes ${goaways.join(', ')}`)
    }
  } finally {
    tls.close()
  }
})
