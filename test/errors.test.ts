import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { ErrorCodes, SmoothError } from '../src/errors.js'
import { ROOT } from './helpers/proc.js'

test('every error code is documented in the README, and formats its arguments', () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
  for (const code of Object.keys(ErrorCodes)) assert.ok(readme.includes(code), `${code} is in README.md`)
  const e = new SmoothError('SMOOTH_LISTEN_FAILED', ':80: address already in use')
  assert.equal(e.code, 'SMOOTH_LISTEN_FAILED')
  assert.equal(e.message, 'cannot listen on :80: address already in use')
})
