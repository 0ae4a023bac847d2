import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { Ajv, type ValidateFunction } from 'ajv'
import { dist } from './helpers/proc.js'
import { ajvOptions, schemaText, settingsSchema, ValidatorFiles } from '../src/config/schema.js'

const require = createRequire(import.meta.url)
const precompiled = (kind: keyof typeof ValidatorFiles) => require(dist('src/config', ValidatorFiles[kind])) as ValidateFunction & { schema: string }

test('the build compiled the config validators from the schema as it is now (no process compiles it at start)', () => {
  for (const kind of ['plain', 'coercing'] as const) assert.equal(precompiled(kind).schema, schemaText(), `${ValidatorFiles[kind]} is stale or missing`)
})

test('the precompiled validators judge as ajv compiling the schema does: same verdict and first error, same coercion', () => {
  const inputs: unknown[] = [
    {}, { workers: 2, address: ':80', logLevel: 'debug', gracefulTimeout: '5s', surge: '50%' }, { wrkers: 1 }, { workers: 0 },
    { workers: 'x' }, { gracefulTimeout: '5 s' }, { maxWorkerMemory: '1XB' }, { maxWorkerMemory: '512MB' }, { surge: '0%' },
    { canary: { share: 'x' } }, { canary: { check: 'ftp://x' } }, { underPressure: { maxRssBytes: -1 } }, { underPressure: { x: 1 } },
    { fastify: { bodyLimit: 0 } }, { fastify: { trustProxy: ['10.0.0.1'] } }, { logLevel: 'loud' }, { metricsAccess: 'nobody' },
    { address: [1] }, { graceful: 'true' }, { workers: '3', metrics: 'false', idleTimeout: '7' },
  ]
  for (const coerce of [false, true]) {
    const fresh = new Ajv(ajvOptions(coerce)).compile(settingsSchema)
    const built = precompiled(coerce ? 'coercing' : 'plain')
    for (const input of inputs) {
      const a = structuredClone(input)
      const b = structuredClone(input)
      assert.equal(built(a), fresh(b), `verdict on ${JSON.stringify(input)} (coerce: ${coerce})`)
      assert.deepEqual(built.errors?.[0], fresh.errors?.[0], `first error on ${JSON.stringify(input)} (coerce: ${coerce})`)
      assert.deepEqual(a, b, `coerced value of ${JSON.stringify(input)}`)
    }
  }
})
