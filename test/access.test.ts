import { test } from 'node:test'
import assert from 'node:assert/strict'
import { pino } from 'pino'
import { Writable } from 'node:stream'
import { hostAllowed, splitHost } from '../src/admin/access.js'
import { FailedAttempts, MAX_FAILURES, WINDOW_MS } from '../src/admin/attempts.js'
import { AdminCredentials } from '../src/admin/credentials.js'

test('Host rules: without a token, loopback names with our port only; with one, loopback names and adminHosts', () => {
  const none = { allowed: ['app.example'], token: false }
  assert.ok(hostAllowed('127.0.0.1:8080', 8080, 80, none))
  assert.ok(hostAllowed('localhost:8080', 8080, 80, none))
  assert.ok(hostAllowed('[::1]:8080', 8080, 80, none))
  assert.ok(hostAllowed('localhost', 80, 80, none), 'no port: the scheme default')
  assert.ok(!hostAllowed('localhost:8081', 8080, 80, none), 'another port is another origin')
  assert.ok(!hostAllowed('evil.example:8080', 8080, 80, none))
  assert.ok(!hostAllowed('app.example:8080', 8080, 80, none), 'adminHosts need a token')
  assert.ok(!hostAllowed(undefined, 8080, 80, none))
  assert.ok(!hostAllowed('127.0.0.1:8080@evil', 8080, 80, none))
  const token = { allowed: ['app.example', 'ops.example:9000'], token: true }
  assert.ok(hostAllowed('127.0.0.1:3000', 8080, 80, token), 'a proxy on this host')
  assert.ok(hostAllowed('APP.example', 8080, 80, token))
  assert.ok(hostAllowed('ops.example:9000', 8080, 80, token))
  assert.ok(!hostAllowed('ops.example:9001', 8080, 80, token))
  assert.ok(!hostAllowed('evil.example', 8080, 80, token))
  assert.ok(hostAllowed('anything', 8080, 80, { allowed: ['*'], token: true }))
  assert.deepEqual(splitHost('[::1]:443'), { name: '[::1]', port: 443 })
})

test('failed attempts: 429 after MAX_FAILURES per client and window, bounded log lines, other clients unaffected', () => {
  let now = 1_000_000
  const lines: Array<Record<string, unknown>> = []
  const sink = new Writable({ write(chunk, _e, cb) { lines.push(JSON.parse(String(chunk)) as Record<string, unknown>); cb() } })
  const attempts = new FailedAttempts(pino(sink), () => now)
  for (let i = 0; i < MAX_FAILURES; i++) {
    assert.equal(attempts.blockedFor('10.0.0.1'), 0)
    attempts.fail('10.0.0.1', '/status')
  }
  assert.ok(attempts.blockedFor('10.0.0.1') > 0)
  assert.equal(attempts.blockedFor('10.0.0.2'), 0)
  for (let i = 0; i < 1000; i++) attempts.fail('10.0.0.1', '/status')
  for (let i = 0; i < 1000; i++) attempts.fail(`10.1.${i >> 8}.${i & 255}`, '/status')
  assert.ok(lines.length <= 20, `${lines.length} lines`)
  now += WINDOW_MS
  assert.equal(attempts.blockedFor('10.0.0.1'), 0, 'a new window')
})

test('credentials: the session is not the token, checks need the token, the verifier round-trips', () => {
  const secret = AdminCredentials.newSecret()
  const c = AdminCredentials.fromToken('tok-123', secret)
  const session = c.sessionFor('tok-123')!
  assert.ok(session && !session.includes('tok-123'))
  assert.equal(c.sessionFor('nope'), undefined)
  const w = AdminCredentials.fromVerifier(c.verifier())!
  assert.ok(w.checkToken('tok-123') && !w.checkToken('tok-12') && w.checkSession(session) && !w.checkSession('tok-123'))
  assert.ok(!c.verifier().includes('tok-123'))
  assert.equal(AdminCredentials.fromToken('tok-123', secret).sessionFor('tok-123'), session, 'same secret and token: same session (survives a restart)')
  assert.notEqual(AdminCredentials.fromToken('tok-123', AdminCredentials.newSecret()).sessionFor('tok-123'), session)
  assert.equal(AdminCredentials.fromVerifier('{"t":1}'), undefined)
})
