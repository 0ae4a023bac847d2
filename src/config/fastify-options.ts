import { SmoothError } from '../errors.js'

/**
 * Fastify constructor options Smooth sets itself, each with the Smooth way to get what the user wanted.
 * Refused rather than silently overridden: the user would otherwise believe their setting applies.
 */
export const OwnedFastifyOptions: Record<string, string> = {
  logger: 'Smooth gives every process its pino logger; set logLevel (SMOOTH_LOG_LEVEL) instead',
  loggerInstance: 'Smooth gives every process its pino logger; set logLevel (SMOOTH_LOG_LEVEL) instead',
  https: 'set httpsCertPath and httpsKeyPath (enableHTTPS) instead',
  http2: 'set the http2 key (with httpsCertPath and httpsKeyPath) instead',
  serverFactory: 'the primary owns the listening sockets; set address (or smooth start --port/--host) instead',
  keepAliveTimeout: 'set idleTimeout instead',
  requestTimeout: 'set readTimeout instead',
}

/**
 * The options a config file or the environment can give (JSON values). Types of the common ones are
 * checked here; Fastify checks the rest when it builds the instance.
 */
export const FASTIFY_OPTIONS_SCHEMA = {
  type: 'object',
  properties: {
    trustProxy: { anyOf: [{ type: 'boolean' }, { type: 'string' }, { type: 'integer', minimum: 0 }, { type: 'array', items: { type: 'string' } }] },
    bodyLimit: { type: 'integer', minimum: 1 },
    maxParamLength: { type: 'integer', minimum: 1 },
    connectionTimeout: { type: 'integer', minimum: 0 },
    pluginTimeout: { type: 'integer', minimum: 0 },
    caseSensitive: { type: 'boolean' },
    ignoreTrailingSlash: { type: 'boolean' },
    ignoreDuplicateSlashes: { type: 'boolean' },
    return503OnClosing: { type: 'boolean' },
    exposeHeadRoutes: { type: 'boolean' },
    disableRequestLogging: { type: 'boolean' },
    requestIdHeader: { anyOf: [{ type: 'string' }, { type: 'boolean' }] },
    requestIdLogLabel: { type: 'string' },
    onProtoPoisoning: { type: 'string', enum: ['error', 'remove', 'ignore'] },
    onConstructorPoisoning: { type: 'string', enum: ['error', 'remove', 'ignore'] },
  },
}

/** Throws SMOOTH_FASTIFY_OPTION_OWNED for the first option Smooth owns. */
export function checkFastifyOptions(options: Record<string, unknown>, where: string): void {
  for (const key of Object.keys(options)) {
    const way = OwnedFastifyOptions[key]
    if (way) throw new SmoothError('SMOOTH_FASTIFY_OPTION_OWNED', key, where, way)
  }
}
