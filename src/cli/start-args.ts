import { parseArgs } from 'node:util'
import { availableParallelism } from 'node:os'
import { SmoothError } from '../errors.js'

export interface StartOptions {
  entry: string
  workers?: number
  port?: string
  host?: string
  pidFile?: string
  /** The admin pattern when --admin was given ('' = the default pattern). */
  admin?: string
  graceful: boolean
}

export const START_USAGE = `usage: smooth start <entry> [-i N|max] [--port P] [--host H] [--pid-file F] [--admin [PATTERN]] [--graceful]
  <entry>           a Fastify plugin (default export async (app, opts), optional \`export const options\`),
                    a factory (build/buildApp, or a default export taking no argument, returning a
                    Fastify instance), or a script using Smooth's API
  -i, --instances   workers: a number or "max" (one per core; the default)
  --port, --host    where to listen (default: $PORT/$HOST, then smooth.yaml, then 127.0.0.1:3000)
  --pid-file F      write the pid to F
  --admin [PATTERN] the admin page and API (default pattern /debug/admin)
  --graceful        reload and restart without dropping requests (smooth reload|restart)`

/**
 * Parses `smooth start` flags. `--admin` takes an optional value, which node's parseArgs cannot
 * express: a following argument starting with "/" is its pattern.
 */
export function parseStartArgs(argv: string[]): StartOptions {
  const args: string[] = []
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--admin') args.push(argv[i + 1]?.startsWith('/') ? `--admin=${argv[++i]}` : '--admin=')
    else args.push(argv[i]!)
  }
  let parsed
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        instances: { type: 'string', short: 'i' },
        port: { type: 'string' },
        host: { type: 'string' },
        'pid-file': { type: 'string' },
        admin: { type: 'string' },
        graceful: { type: 'boolean' },
      },
    })
  } catch (err) {
    throw new SmoothError('SMOOTH_CLI_USAGE', (err as Error).message)
  }
  const { values, positionals } = parsed
  if (positionals.length !== 1) throw new SmoothError('SMOOTH_CLI_USAGE', 'smooth start takes one entry file')
  const out: StartOptions = { entry: positionals[0]!, graceful: values.graceful === true }
  if (values.instances !== undefined) {
    const n = values.instances === 'max' ? availableParallelism() : Number(values.instances)
    if (!Number.isInteger(n) || n < 1 || n > 1024) throw new SmoothError('SMOOTH_CLI_USAGE', `-i takes a number of workers from 1 to 1024 or "max", not "${values.instances}"`)
    out.workers = n
  }
  if (values.port !== undefined) {
    const p = Number(values.port)
    if (!Number.isInteger(p) || p < 0 || p > 65535) throw new SmoothError('SMOOTH_CLI_USAGE', `--port takes a port number, not "${values.port}"`)
    out.port = values.port
  }
  if (values.host !== undefined) out.host = values.host
  if (values['pid-file'] !== undefined) out.pidFile = values['pid-file']
  if (values.admin !== undefined) out.admin = values.admin
  return out
}
