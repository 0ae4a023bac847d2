import { accessSync, constants } from 'node:fs'
import { delimiter, join } from 'node:path'

/**
 * Tests that need a program beyond Node declare it, so `npm test` passes on a machine with Node alone
 * (the test is skipped, naming the program and the Debian package that installs it) while CI, which sets
 * TEST_REQUIRE_ALL_PROGRAMS=1 (see .ci/run), fails instead: CI can never pass by skipping.
 *
 * Adopting it is one spread into the test's options:
 *
 *   import { requires } from './helpers/requires.js'
 *   test('behind HAProxy …', { timeout: 60_000, ...requires('haproxy') }, async () => { … })
 *
 * A program missing from the table below is a type error: add it with its Debian package (and to .ci/run).
 * The run's summary lists every skip (test/helpers/skip-summary.ts, a reporter wired in `npm test`).
 */
export const PROGRAMS = {
  chromium: 'chromium',
  haproxy: 'haproxy',
  prometheus: 'prometheus',
  wrk: 'wrk',
  openssl: 'openssl',
  h2load: 'nghttp2-client',
} as const satisfies Record<string, string>

export type Program = keyof typeof PROGRAMS

/** Prefix of every skip message; the summary reporter collects the skips that carry it. */
export const SKIP_PREFIX = 'needs'

/** The program's absolute path found on PATH (the way spawn finds it), or undefined. */
export function which(program: string, path = process.env.PATH ?? ''): string | undefined {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue
    const file = join(dir, program)
    try {
      accessSync(file, constants.X_OK)
      return file
    } catch {
      // not in this directory
    }
  }
  return undefined
}

/**
 * `{}` when every program is on PATH; `{ skip: 'needs haproxy (Debian package haproxy)…' }` when some are
 * missing. With TEST_REQUIRE_ALL_PROGRAMS=1 a missing program throws instead, which fails the test file.
 */
export function requires(...programs: Program[]): { skip?: string } {
  const missing = programs.filter((p) => !which(p))
  if (missing.length === 0) return {}
  const what = missing.map((p) => `${p} (Debian package ${PROGRAMS[p]})`).join(', ')
  if (process.env.TEST_REQUIRE_ALL_PROGRAMS === '1') {
    throw new Error(`TEST_REQUIRE_ALL_PROGRAMS=1 and this test needs ${what}, missing from PATH: apt-get install -y ${missing.map((p) => PROGRAMS[p]).join(' ')}`)
  }
  return { skip: `${SKIP_PREFIX} ${what}, missing from PATH` }
}
