import { parseArgs } from 'node:util'
import { AdminClient } from './client.js'
import { readRecord } from './record.js'

const USAGE = 'usage: smooth scale <N|+N|-N> [--url URL] [--token TOKEN] [--json]   (no --url: the server started in this directory)'

/**
 * `smooth scale 3`, `smooth scale +1`, `smooth scale -1`: changes the worker count of a running server
 * through its admin API and waits for the outcome. A signed change is read before option parsing,
 * since "-1" would otherwise look like a flag. Exit codes as the other commands: 0 done, 1 refused or
 * failed, 2 usage, 3 unreachable.
 */
export async function scale(argv: string[]): Promise<number> {
  const change = argv[0]
  if (change === undefined || !/^[+-]?\d+$/.test(change)) {
    process.stderr.write(`smooth: SMOOTH_CLI_USAGE: smooth scale takes a worker count or a change (+1, -1) first\n${USAGE}\n`)
    return 2
  }
  let values
  try {
    ({ values } = parseArgs({ args: argv.slice(1), options: { url: { type: 'string' }, token: { type: 'string' }, json: { type: 'boolean' } } }))
  } catch (err) {
    process.stderr.write(`smooth: SMOOTH_CLI_USAGE: ${(err as Error).message}\n${USAGE}\n`)
    return 2
  }
  const url = values.url ?? readRecord(process.cwd())?.admin
  if (!url) {
    process.stderr.write(`smooth: SMOOTH_CLI_USAGE: no admin to ask: give --url, or run it where \`smooth start … --admin\` runs\n`)
    return 2
  }
  const client = new AdminClient(url, values.token ?? process.env.SMOOTH_ADMIN_TOKEN)
  let r: { status: number; body: unknown }
  try {
    r = await client.action('scale', { workers: change, wait: '1' }, 300_000)
  } catch (err) {
    process.stderr.write(`smooth: ${url}: unreachable: ${(err as Error).message}\n`)
    return 3
  }
  const body = r.body as { error?: string; code?: string; rollout?: { durationMs?: number } }
  if (values.json) process.stdout.write(JSON.stringify({ host: url, status: r.status, ...body }) + '\n')
  if (r.status !== 200) {
    if (!values.json) process.stderr.write(`smooth: ${body.code ?? 'ERROR'}: ${body.error ?? `answered ${r.status}`}\n`)
    return r.status === 401 || r.status === 403 ? 3 : 1
  }
  const s = await client.status().catch(() => undefined)
  if (!values.json) process.stdout.write(`${url}: scaled in ${((body.rollout?.durationMs ?? 0) / 1000).toFixed(1)} s: ${s ? `${s.workers.filter((w) => w.state === 'ready').length} workers ready (${s.workersWanted} wanted)` : 'done'}\n`)
  return 0
}
