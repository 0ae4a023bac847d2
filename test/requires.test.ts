import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { dist } from './helpers/proc.js'

const root = mkdtempSync(join(tmpdir(), 'smooth-requires-'))
after(() => rmSync(root, { recursive: true, force: true }))

/** The fixture run the way `npm test` runs the suite (spec + the skip summary), with only `path` on PATH. */
function runFixture(path: string, env: Record<string, string> = {}): { code: number | null; out: string } {
  // Neither the runner's nesting marker nor CI's own require-all switch: each case sets what it tests.
  const { NODE_TEST_CONTEXT: _nested, TEST_REQUIRE_ALL_PROGRAMS: _ci, ...parent } = process.env
  const r = spawnSync(process.execPath, ['--test', '--test-reporter=spec', '--test-reporter-destination=stdout',
    `--test-reporter=${dist('test/helpers/skip-summary.js')}`, '--test-reporter-destination=stdout', dist('test/fixtures/needs-program.js')],
  { env: { ...parent, PATH: path, ...env }, encoding: 'utf8', timeout: 30_000 })
  return { code: r.status, out: r.stdout + r.stderr }
}

test('a missing program skips the test, naming the program and its Debian package, and the summary lists it', () => {
  const r = runFixture(join(root, 'empty'))
  assert.equal(r.code, 0, r.out)
  assert.match(r.out, /Skipped for a missing program \(1;/)
  assert.match(r.out, /- a test that needs haproxy: needs haproxy \(Debian package haproxy\)/)
})

test('TEST_REQUIRE_ALL_PROGRAMS=1: a missing program fails the run, naming it', () => {
  const r = runFixture(join(root, 'empty'), { TEST_REQUIRE_ALL_PROGRAMS: '1' })
  assert.equal(r.code, 1, r.out)
  assert.match(r.out, /TEST_REQUIRE_ALL_PROGRAMS=1 and this test needs haproxy/)
})

test('a program found on PATH runs the test, even with TEST_REQUIRE_ALL_PROGRAMS=1', () => {
  const bin = join(root, 'bin')
  rmSync(bin, { recursive: true, force: true })
  mkdirSync(bin, { recursive: true })
  writeFileSync(join(bin, 'haproxy'), '#!/bin/sh\n')
  chmodSync(join(bin, 'haproxy'), 0o755)
  const r = runFixture(bin, { TEST_REQUIRE_ALL_PROGRAMS: '1' })
  assert.equal(r.code, 0, r.out)
  assert.match(r.out, /Skipped for a missing program: none/)
})
