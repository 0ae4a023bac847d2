import { pathToFileURL } from 'node:url'
import type { FastifyPluginAsync } from 'fastify'
import { SmoothError } from '../errors.js'
import { firstStart } from '../server.js'
import type { AppFactory } from '../worker/factory.js'

/** What `smooth start <entry>` found in the entry module. */
export type Entry =
  | { kind: 'plugin'; plugin: FastifyPluginAsync; options: Record<string, unknown> }
  | { kind: 'factory'; factory: AppFactory }
  | { kind: 'script'; done: Promise<unknown> }

type Module = Record<string, unknown> & { default?: unknown }
type Fn = ((...args: unknown[]) => unknown) & { [k: symbol]: unknown }

/**
 * Imports the entry and tells what it is. A script starts a server with Smooth's API while it is
 * imported (its top-level `await s.start()` may never settle in this process), so the import races the
 * first start(). Otherwise, as fastify-cli and Fastify's testing guide have it: build/buildApp, or a
 * default export taking no argument, is a factory; a default export taking (app, opts) is a plugin, whose
 * exported `options` are Fastify constructor options.
 */
export async function loadEntry(file: string): Promise<Entry> {
  const imported = import(pathToFileURL(file).href) as Promise<Module>
  let mod: Module | 'script'
  try {
    mod = await Promise.race([imported, firstStart.then(() => 'script' as const)])
  } catch (err) {
    throw new SmoothError('SMOOTH_ENTRY_FAILED', file, firstLine(err))
  }
  if (mod === 'script') return { kind: 'script', done: imported }
  const m: Module = mod
  const cjs = (typeof m.default === 'object' && m.default !== null ? m.default : {}) as Module
  const named = (k: string): unknown => typeof m[k] === 'function' ? m[k] : typeof cjs[k] === 'function' ? cjs[k] : undefined
  const factory = named('build') ?? named('buildApp')
  if (factory) return { kind: 'factory', factory: factory as AppFactory }
  const fn = (typeof m.default === 'function' ? m.default : undefined) as Fn | undefined
  if (!fn) throw new SmoothError('SMOOTH_ENTRY_NO_EXPORT', file)
  // fastify-plugin marks a plugin; any plugin takes the instance, a factory takes nothing.
  if (fn.length === 0 && !fn[Symbol.for('skip-override')]) return { kind: 'factory', factory: fn as AppFactory }
  const options = (m.options ?? (fn as unknown as { options?: unknown }).options ?? {}) as Record<string, unknown>
  if (typeof options !== 'object' || options === null) throw new SmoothError('SMOOTH_ENTRY_FAILED', file, '`options` must be an object of Fastify options')
  return { kind: 'plugin', plugin: fn as unknown as FastifyPluginAsync, options }
}

/** The error on one line: its code or class (SyntaxError, TypeError) and the first line of its message. */
export function firstLine(err: unknown): string {
  const e = err as { code?: string; message?: string; name?: string }
  const kind = e.code && !String(e.code).startsWith('SMOOTH_') ? e.code : e.name && e.name !== 'Error' && e.name !== 'SmoothError' ? e.name : ''
  return `${kind ? kind + ': ' : ''}${String(e.message ?? err).split('\n')[0]}`
}
