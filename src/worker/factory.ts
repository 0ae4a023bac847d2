import type { FastifyInstance, FastifyPluginAsync } from 'fastify'
import { SmoothError } from '../errors.js'

/** Fastify's testing-guide app shape: a function returning a Fastify instance or a promise of one. */
export type AppFactory = (options?: Record<string, unknown>) => FastifyInstance | PromiseLike<FastifyInstance> | Promise<FastifyInstance>

export function isFastifyInstance(x: unknown): x is FastifyInstance {
  const f = x as Partial<FastifyInstance> | null
  return typeof f === 'object' && f !== null && typeof f.route === 'function' && typeof f.register === 'function' && f.server !== undefined
}

/**
 * Wraps a plugin so that a factory registered by mistake (it returns its own Fastify instance, whose
 * routes nobody would serve) fails the start with SMOOTH_FACTORY_AS_PLUGIN instead of answering 404.
 */
export function refuseFactory<O extends Record<string, unknown>>(plugin: FastifyPluginAsync<O>): FastifyPluginAsync<O> {
  // A callback plugin (app, opts, done) cannot be a factory: avvio calls it with done, leave it be.
  if (plugin.length >= 3) return plugin
  const name = plugin.name || 'the plugin'
  const wrapped = async function (this: unknown, app: FastifyInstance, opts: O): Promise<void> {
    const result: unknown = await (plugin as (a: FastifyInstance, o: O) => unknown).call(this, app, opts)
    if (isFastifyInstance(result) && result !== app) throw new SmoothError('SMOOTH_FACTORY_AS_PLUGIN', name)
  }
  // fastify-plugin's marks (skip-override, metadata) live on the function: keep them on the wrapper.
  for (const key of Reflect.ownKeys(plugin)) {
    if (key === 'length' || key === 'name' || key === 'prototype') continue
    Object.defineProperty(wrapped, key, Object.getOwnPropertyDescriptor(plugin, key)!)
  }
  return wrapped as FastifyPluginAsync<O>
}

/** Calls the factory in a worker; refuses what is not a fresh Fastify instance or what Smooth owns. */
export async function instanceFrom(factory: AppFactory): Promise<FastifyInstance> {
  const app: unknown = await factory()
  if (!isFastifyInstance(app)) throw new SmoothError('SMOOTH_FACTORY_INVALID', app === null ? 'null' : typeof app)
  const initial = app.initialConfig as { https?: unknown; http2?: boolean }
  if (initial.http2) throw new SmoothError('SMOOTH_FASTIFY_OPTION_OWNED', 'http2', 'the factory\'s instance', 'set the http2 key (with httpsCertPath and httpsKeyPath) instead')
  if (initial.https) throw new SmoothError('SMOOTH_FASTIFY_OPTION_OWNED', 'https', 'the factory\'s instance', 'set httpsCertPath and httpsKeyPath (enableHTTPS) instead')
  return app
}
