import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { resolveConfig } from '../src/config/resolve.js'
import { loadConfigFile } from '../src/config/load.js'
import { Server } from '../src/server.js'
import { codeOf } from './helpers/codes.js'

const dir = mkdtempSync(join(tmpdir(), 'smooth-fastify-options-'))
after(() => rmSync(dir, { recursive: true, force: true }))
const yaml = (text: string) => {
  const p = join(dir, 'smooth.yaml')
  writeFileSync(p, text)
  return loadConfigFile(p)
}

test('fastify options merge key by key: smooth.yaml < SMOOTH_FASTIFY < setFastifyOptions', () => {
  const f = yaml('server:\n  address: ":0"\n  fastify:\n    trustProxy: true\n    bodyLimit: 1000\n    caseSensitive: false\n')
  const s = new Server('default').setFastifyOptions({ bodyLimit: 3000, genReqId: () => 'id' })
  const r = resolveConfig([{ name: 'default', settings: s.settings }], { SMOOTH_FASTIFY: '{"caseSensitive":true,"bodyLimit":2000}' }, f)
  const opts = r.servers[0]!.fastify
  assert.equal(opts.trustProxy, true)
  assert.equal(opts.caseSensitive, true)
  assert.equal(opts.bodyLimit, 3000)
  assert.equal(typeof opts.genReqId, 'function')
})

test('fastify options are validated; those Smooth owns are refused with the Smooth way named', () => {
  const ok = { address: ':0' }
  assert.equal(codeOf(() => resolveConfig([{ name: 'default', settings: ok }], {}, yaml('server:\n  fastify:\n    bodyLimit: -1\n'))), 'SMOOTH_CONFIG_INVALID')
  assert.equal(codeOf(() => resolveConfig([{ name: 'default', settings: ok }], {}, yaml('server:\n  fastify:\n    logger: true\n'))), 'SMOOTH_FASTIFY_OPTION_OWNED')
  assert.equal(codeOf(() => resolveConfig([{ name: 'default', settings: ok }], { SMOOTH_FASTIFY: '{"https":{}}' }, yaml('server: {}\n'))), 'SMOOTH_FASTIFY_OPTION_OWNED')
  assert.equal(codeOf(() => resolveConfig([{ name: 'default', settings: ok }], { SMOOTH_FASTIFY: 'nope' }, yaml('server: {}\n'))), 'SMOOTH_CONFIG_INVALID')
  for (const key of ['logger', 'loggerInstance', 'https', 'http2', 'serverFactory', 'keepAliveTimeout', 'requestTimeout']) {
    assert.equal(codeOf(() => new Server('x').setFastifyOptions({ [key]: true })), 'SMOOTH_FASTIFY_OPTION_OWNED', key)
  }
})
