import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Duplex } from 'node:stream'
import type { TLSSocket } from 'node:tls'
import { FramedSocket } from '../src/worker/h2-frames.js'

/** An HTTP/2 frame: 9-byte header (length, type, flags, stream id) and `length` payload bytes. */
function frame(type: number, stream: number, length: number): Buffer {
  const b = Buffer.alloc(9 + length, 0xab)
  b.writeUIntBE(length, 0, 3)
  b[3] = type
  b[4] = 0
  b.writeUInt32BE(stream, 5)
  return b
}

const NOTICE = Buffer.from([0, 0, 8, 0x7, 0, 0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0])

/** A stand-in for the TLS socket: records what the tap writes; `push` delivers what the client sent. */
function fakeTls(): { tls: TLSSocket; written: Buffer[] } {
  const written: Buffer[] = []
  const d = new Duplex({ read() {}, write(chunk: Buffer, _e, cb) { written.push(chunk); cb() } })
  Object.assign(d, { alpnProtocol: 'h2' })
  return { tls: d as unknown as TLSSocket, written }
}

const write = (s: FramedSocket, b: Buffer) => new Promise<void>((r) => s.write(b, () => r()))

test('the shutdown notice goes in at the first frame boundary, however the frames are cut into chunks', async () => {
  const frames = [frame(0x4, 0, 6), frame(0x1, 1, 10), frame(0x0, 1, 5), frame(0x0, 1, 0), frame(0x1, 3, 33)]
  const all = Buffer.concat(frames)
  const ends: number[] = []
  frames.reduce((at, f) => (ends.push(at + f.length), at + f.length), 0)
  for (let cut = 1; cut < all.length; cut++) {
    for (const step of [1, 4, 13, 1000]) {
      const { tls, written } = fakeTls()
      const s = new FramedSocket(tls)
      await write(s, all.subarray(0, cut))
      s.shutdownNotice()
      for (let i = cut; i < all.length; i += step) await write(s, all.subarray(i, Math.min(all.length, i + step)))
      const boundary = ends.find((e) => e >= cut)!
      const expected = Buffer.concat([all.subarray(0, boundary), NOTICE, all.subarray(boundary)])
      assert.deepEqual(Buffer.concat(written), expected, `cut ${cut}, step ${step}`)
    }
  }
})

test('a notice asked for before the session wrote anything goes after its first frame (the SETTINGS preface)', async () => {
  // A session that arrives while its worker drains: the notice is asked for at once. Before the fix it
  // went out first, and the client failed the connection (PROTOCOL_ERROR) and reset all its streams.
  const frames = [frame(0x4, 0, 18), frame(0x6, 0, 8), frame(0x8, 0, 4)]
  const all = Buffer.concat(frames)
  const expected = Buffer.concat([frames[0]!, NOTICE, frames[1]!, frames[2]!])
  for (const step of [1, 5, 9, 27, 1000]) {
    const { tls, written } = fakeTls()
    const s = new FramedSocket(tls)
    s.shutdownNotice()
    for (let i = 0; i < all.length; i += step) await write(s, all.subarray(i, Math.min(all.length, i + step)))
    assert.deepEqual(Buffer.concat(written), expected, `step ${step}`)
  }
})

const tick = () => new Promise((r) => setImmediate(r))

test('after the final GOAWAY, streams the client opens above its last stream id are counted as refused', async () => {
  const { tls } = fakeTls()
  const s = new FramedSocket(tls)
  s.resume()
  let refused = 0
  const preface = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n')
  const input = Buffer.concat([preface, frame(0x4, 0, 0), frame(0x1, 1, 20), frame(0x0, 1, 7)])
  for (let i = 0; i < input.length; i += 5) tls.push(input.subarray(i, i + 5))
  await tick()
  s.countRefusedAbove(1, () => refused++)
  // Trailers on stream 1 are not a new stream; HEADERS on 3 and 5 are.
  const late = Buffer.concat([frame(0x1, 1, 4), frame(0x1, 3, 12), frame(0x8, 0, 4), frame(0x1, 5, 9)])
  for (let i = 0; i < late.length; i += 7) tls.push(late.subarray(i, i + 7))
  await tick()
  assert.equal(refused, 2)
})
