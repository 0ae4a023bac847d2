import { SKIP_PREFIX } from './requires.js'

interface TestEvent { type: string; data: { name?: string; skip?: string | boolean; file?: string } }

/**
 * A node:test reporter (wired beside `spec` in `npm test`) that prints, after the run, every test skipped
 * for a missing program, so a run on a bare machine says plainly what it did not check.
 */
export default async function* skipSummary(source: AsyncIterable<TestEvent>): AsyncGenerator<string> {
  const skipped: string[] = []
  for await (const event of source) {
    const { skip, name } = event.data
    if ((event.type === 'test:pass' || event.type === 'test:fail') && typeof skip === 'string' && skip.startsWith(SKIP_PREFIX)) {
      skipped.push(`  - ${name}: ${skip}`)
    }
  }
  yield skipped.length === 0
    ? '\nSkipped for a missing program: none\n'
    : `\nSkipped for a missing program (${skipped.length}; install them, or set TEST_REQUIRE_ALL_PROGRAMS=1 to fail instead):\n${skipped.join('\n')}\n`
}
