import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync, readdirSync } from 'node:fs'
import { join, relative } from 'node:path'
import { ErrorCodes, ErrorTable, SmoothError, httpError, httpStatus } from '../src/errors.js'
import { EnvNames } from '../src/env.js'
import { ConfigKeys, envName } from '../src/config/keys.js'
import { ROOT } from './helpers/proc.js'

/** How many codes there are: a new one is added here, in errors.ts and in README's table on purpose. */
const CODES = 58

/** Environment variable names are declared (EnvNames in wire.ts, re-exported by env.ts; config/keys.ts's SMOOTH_ + key): never error codes. */
const ENV_NAMES = new Set<string>([...Object.values(EnvNames), ...Object.keys(ConfigKeys).map(envName)])
const CODE_NAMES = new Set(Object.keys(ErrorTable))

function* sourceFiles(dir: string): Generator<string> {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) yield* sourceFiles(join(dir, e.name))
    else if (e.name.endsWith('.ts')) yield join(dir, e.name)
  }
}

/** README's `## Errors` table: code -> the text of its row. */
function readmeErrorRows(): Map<string, string> {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
  const section = readme.slice(readme.indexOf('\n## Errors\n'), readme.indexOf('\n## ', readme.indexOf('\n## Errors\n') + 1))
  const rows = new Map<string, string>()
  for (const m of section.matchAll(/^\| `(SMOOTH_[A-Z_]+)` \|(.*)$/gm)) rows.set(m[1]!, m[2]!)
  return rows
}

test('every SMOOTH_* literal in src/ is an error code in the table or a declared environment name', () => {
  const missing: string[] = []
  for (const file of sourceFiles(join(ROOT, 'src'))) {
    readFileSync(file, 'utf8').split('\n').forEach((line, i) => {
      for (const [name] of line.matchAll(/SMOOTH_[A-Z0-9_]*/g)) {
        // `SMOOTH_`, `SMOOTH_CONFIG_*`: a prefix, in prose or a startsWith, must begin some known name.
        const known = name.endsWith('_')
          ? [...CODE_NAMES, ...ENV_NAMES].some((n) => n.startsWith(name))
          : CODE_NAMES.has(name) || ENV_NAMES.has(name)
        if (!known) missing.push(`${relative(ROOT, file)}:${i + 1}: ${name}`)
      }
    })
  }
  assert.deepEqual(missing, [], 'add each to ErrorTable (src/errors.ts) and README, or declare it in EnvNames (src/wire.ts)')
})

test('README\'s error table and the code table list the same codes, with the same HTTP statuses; the count is pinned', () => {
  const rows = readmeErrorRows()
  assert.deepEqual([...CODE_NAMES].filter((c) => !rows.has(c)), [], 'codes missing from README\'s error table')
  assert.deepEqual([...rows.keys()].filter((c) => !CODE_NAMES.has(c)), [], 'README lists codes that errors.ts does not have')
  for (const [code, spec] of Object.entries(ErrorTable)) {
    // A row says "(HTTP nnn" exactly when the code is answered with something other than a plain 500.
    const said = /\(HTTP (\d{3})/.exec(rows.get(code)!)?.[1]
    assert.equal(said === undefined ? 500 : Number(said), spec.http, `${code}: README's HTTP status`)
  }
  assert.equal(CODE_NAMES.size, CODES, 'the number of error codes (update CODES when adding one on purpose)')
  assert.equal(Object.keys(ErrorCodes).length, CODES, 'ErrorCodes is the table\'s messages')
})

test('an error formats its arguments and carries its code and HTTP status', () => {
  const e = new SmoothError('SMOOTH_LISTEN_FAILED', ':80: address already in use')
  assert.equal(e.code, 'SMOOTH_LISTEN_FAILED')
  assert.equal(e.message, 'cannot listen on :80: address already in use')
  assert.equal(httpStatus(new SmoothError('SMOOTH_EXE_UNSAFE', '/x', 'group-writable')), 403)
  assert.equal(httpStatus(new SmoothError('SMOOTH_ROLLOUT_IN_PROGRESS', 'reload')), 409)
  assert.equal(httpStatus(new SmoothError('SMOOTH_ANCHOR_GONE', 'x')), 503)
  assert.equal(httpStatus(new Error('plain')), 500)
  assert.deepEqual(httpError(new SmoothError('SMOOTH_SCALE_INVALID', '0', 'below 1')), { status: 400, body: { error: 'cannot scale to 0: below 1', code: 'SMOOTH_SCALE_INVALID' } })
  assert.equal(httpError(Object.assign(new Error('reset'), { code: 'ECONNRESET' })).body.code, 'ECONNRESET')
})
