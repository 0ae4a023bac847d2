import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { resolveConfig } from '../src/config/resolve.js'
import { loadConfigFile } from '../src/config/load.js'
import { Server } from '../src/server.js'
import { codeOf } from './helpers/codes.js'
import { pino } from 'pino'
import { buildApp } from '../src/worker/app.js'

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

test('routes with schemas validate and serialize as in plain Fastify (the serializer compiler is loaded when first needed)', async () => {
  const schema = {
    body: { type: 'object', required: ['n'], properties: { n: { type: 'integer' } } },
    // Fastify's own validator compiler matches header names case-insensitively; a custom one would not.
    headers: { type: 'object', required: ['X-Key'], properties: { 'X-Key': { type: 'string' } } },
    response: { 200: { type: 'object', properties: { n: { type: 'integer' } } } },
  }
  const build = async (s: Server) => {
    s.route({ method: 'POST', url: '/echo', schema, handler: async (req) => ({ n: (req.body as { n: number }).n, secret: 'not in the response schema' }) })
    const r = resolveConfig([{ name: 'default', settings: { ...s.settings, address: '127.0.0.1:0' } }], {}, { base: {}, named: {} })
    return buildApp(s, r.servers[0]!, r.process, pino({ level: 'silent' }), { control: async () => ({ status: 200, body: '' }) }, undefined)
  }
  const app = await build(new Server('default'))
  try {
    const ok = await app.inject({ method: 'POST', url: '/echo', headers: { 'x-key': 'k' }, payload: { n: 7 } })
    assert.equal(ok.statusCode, 200)
    assert.deepEqual(ok.json(), { n: 7 }, 'fast-json-stringify drops what the response schema does not name')
    assert.equal((await app.inject({ method: 'POST', url: '/echo', headers: { 'x-key': 'k' }, payload: { n: 'x' } })).statusCode, 400)
    assert.equal((await app.inject({ method: 'POST', url: '/echo', payload: { n: 1 } })).statusCode, 400, 'the header schema applies')
  } finally {
    await app.close()
  }
  // A serializer compiler of the user's own (Fastify's schemaController option) is theirs to keep.
  const own = await build(new Server('default').setFastifyOptions({ schemaController: { compilersFactory: { buildSerializer: () => () => () => 'own serializer' } } }))
  try {
    assert.equal((await own.inject({ method: 'POST', url: '/echo', headers: { 'x-key': 'k' }, payload: { n: 7 } })).body, 'own serializer')
  } finally {
    await own.close()
  }
})
