import { existsSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import Fastify from 'fastify'
import { SmoothError } from '../errors.js'
import { parseAddresses } from '../config/address.js'
import { findConfigFile, loadConfigFile } from '../config/load.js'
import { envName } from '../config/keys.js'
import { parseStartArgs, START_USAGE, type StartOptions } from './start-args.js'
import { loadEntry, firstLine, type Entry } from './entry.js'
import { refuseFactory, instanceFrom } from '../worker/factory.js'
import { writeRecord, removeRecord } from './record.js'
import { checkFastifyOptions } from '../config/fastify-options.js'

const DEFAULT_ADDRESS = '127.0.0.1:3000'
const DEFAULT_ADMIN = '/debug/admin'

/**
 * `smooth start <entry>`: runs an existing Fastify app (plugin or factory module) or a Smooth script
 * under Smooth. This runs in every process of the tree (the anchor, each primary, each worker re-run
 * the same command line), so every step here is deterministic from argv and the environment. Flags
 * reach the config as SMOOTH_* variables: flags > environment > smooth.yaml > defaults.
 */
export async function start(argv: string[], mode: 'start' | 'dev' = 'start'): Promise<number> {
  const userStarted = process.env.SMOOTH_ROLE === undefined
  // A child (primary, worker) that cannot start must exit: its IPC channel would keep it alive.
  const fail = (err: unknown, code: number): number => {
    report(err, code)
    if (!userStarted) process.exit(code)
    return code
  }
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(START_USAGE + '\n')
    return 0
  }
  let opts: StartOptions
  try {
    opts = parseStartArgs(argv)
  } catch (err) {
    return fail(err, 2)
  }
  const file = resolve(opts.entry)
  if (!existsSync(file)) return fail(new SmoothError('SMOOTH_ENTRY_NOT_FOUND', file), 1)
  // Only the process the user started reads the flags: the others inherit the SMOOTH_* variables it
  // set, which lets a primary hand its successor a changed one (a scaled worker count).
  let admin: string | undefined
  try {
    if (userStarted) admin = applyFlags(opts, mode)
  } catch (err) {
    return fail(err, 1)
  }
  // Picks this process's role and installs its signal handlers, before the user's code runs.
  const { server } = await import('../index.js')
  // The primary watches (it runs the reloads); each reload's workers load the files as they are now.
  if (mode === 'dev' && process.env.SMOOTH_ROLE === 'primary') {
    const { watchAndReload } = await import('./dev.js')
    const { logger } = await import('../log.js')
    watchAndReload(dirname(file), () => server().reload(), logger()).unref()
  }
  let entry: Entry
  try {
    entry = await loadEntry(file)
    if (entry.kind !== 'script' && userStarted) await tryOnce(entry)
  } catch (err) {
    return fail(err, 1)
  }
  const record = userStarted ? writeRecord(process.cwd(), { pid: process.pid, entry: file, ...(admin ? { admin } : {}) }) : undefined
  if (record) process.once('exit', () => removeRecord(record, process.pid))
  if (entry.kind === 'script') {
    await entry.done
    return 0
  }
  const s = server()
  try {
    if (entry.kind === 'plugin') s.setFastifyOptions(entry.options).register(entry.plugin)
    else s.setAppFactory(entry.factory)
  } catch (err) {
    return fail(err, 1)
  }
  if (opts.admin !== undefined) s.enableAdmin(opts.admin || DEFAULT_ADMIN)
  await s.run()
  return 0
}

/** Sets the flags as SMOOTH_* variables; returns the admin URL when it can be known in advance. */
function applyFlags(opts: StartOptions, mode: 'start' | 'dev'): string | undefined {
  const set = (key: string, value: string | undefined): void => {
    if (value !== undefined) process.env[envName(key)] = value
  }
  set('workers', opts.workers?.toString() ?? (mode === 'dev' ? '1' : undefined))
  set('pidFile', opts.pidFile)
  if (opts.graceful || mode === 'dev') set('graceful', 'true')
  if (opts.admin) set('adminPattern', opts.admin)
  // PORT and HOST work as in fastify-cli: the defaults of --port and --host.
  const port = opts.port ?? process.env.PORT
  const host = opts.host ?? process.env.HOST
  const fromFile = loadConfigFile(findConfigFile()).base.address
  if (port !== undefined || host !== undefined) set('address', `${host ?? '127.0.0.1'}:${port ?? '3000'}`)
  else if (!process.env[envName('address')] && !fromFile) set('address', DEFAULT_ADDRESS)
  const first = parseAddresses(process.env[envName('address')] ?? fromFile)[0]
  if (opts.admin === undefined || !first || first.port === 0) return undefined
  const h = !first.host || first.host === '0.0.0.0' || first.host === '::' ? '127.0.0.1' : first.host
  return `http://${h.includes(':') ? `[${h}]` : h}:${first.port}${opts.admin || DEFAULT_ADMIN}`
}

/**
 * Builds the app once in the process the user started, before any worker: a plugin that throws, a
 * factory registered as a plugin, or an option Smooth owns is one clear line and exit 1, not a crash
 * loop of workers.
 */
async function tryOnce(entry: Exclude<Entry, { kind: 'script' }>): Promise<void> {
  let app
  try {
    if (entry.kind === 'plugin') {
      checkFastifyOptions(entry.options, 'the entry\'s exported options')
      app = Fastify(entry.options)
      await app.register(refuseFactory(entry.plugin))
    } else {
      app = await instanceFrom(entry.factory)
    }
    await app.ready()
  } catch (err) {
    if (err instanceof SmoothError) throw err
    throw new SmoothError('SMOOTH_ENTRY_FAILED', 'the app', firstLine(err))
  } finally {
    await app?.close().catch(() => {})
  }
}

/** One line on stderr: `smooth: CODE: what` (exit code 2: usage, 1: refused). */
function report(err: unknown, code: number): void {
  const e = err as { code?: string; message?: string }
  process.stderr.write(`smooth: ${e.code ? e.code + ': ' : ''}${firstLine({ message: e.message ?? String(err) })}${code === 2 ? ' (smooth start --help)' : ''}\n`)
}
