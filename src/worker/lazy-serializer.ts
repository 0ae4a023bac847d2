import { createRequire } from 'node:module'
import type { FastifyServerOptions } from 'fastify'

type SchemaControllerOptions = NonNullable<FastifyServerOptions['schemaController']>
type SerializerFactory = NonNullable<NonNullable<SchemaControllerOptions['compilersFactory']>['buildSerializer']>

let fjs: SerializerFactory | undefined

/**
 * Fastify's `schemaController` option with Fastify's own serializer compiler (fast-json-stringify),
 * loaded when a route first needs it (a response schema) rather than when each instance is made:
 * ~10 ms of CPU in every worker's boot. Fastify takes a given serializer factory as it takes its own
 * (unlike a validator factory, which it treats as a custom compiler). The module is the one Fastify
 * itself would load (resolved from Fastify's directory). A user's own factory is kept.
 */
export function lazySerializer(user: SchemaControllerOptions | undefined): SchemaControllerOptions {
  if (user?.compilersFactory?.buildSerializer) return user
  const buildSerializer: SerializerFactory = (schemas, options) => (fjs ??= defaultSerializerFactory())(schemas, options)
  return { ...user, compilersFactory: { ...user?.compilersFactory, buildSerializer } }
}

function defaultSerializerFactory(): SerializerFactory {
  const fromFastify = createRequire(createRequire(import.meta.url).resolve('fastify'))
  return (fromFastify('@fastify/fast-json-stringify-compiler') as { SerializerSelector: () => SerializerFactory }).SerializerSelector()
}
