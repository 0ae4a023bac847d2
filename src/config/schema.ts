import { createRequire } from 'node:module'
import type { ErrorObject, ValidateFunction } from 'ajv'
import { ConfigKeys, LogLevels, MetricsAccess, type KeyKind } from './keys.js'
import { SmoothError } from '../errors.js'
import { FASTIFY_OPTIONS_SCHEMA, checkFastifyOptions } from './fastify-options.js'

/** JSON schemas generated once from the key table; ajv reports the key path of what is wrong. */
const DURATION = { anyOf: [{ type: 'number', minimum: 0 }, { type: 'string', pattern: '^\\d+(\\.\\d+)?(ms|s|m|h)?$' }] }
const BYTES = { anyOf: [{ type: 'number', minimum: 0 }, { type: 'string', pattern: '^\\d+(\\.\\d+)?\\s*([kKmMgG]i?[bB]?|[bB])?$' }] }
/** A count, or a percentage of the workers ("50%"); a plain number in a string comes from the environment. */
const SHARE = { anyOf: [{ type: 'integer', minimum: 1, maximum: 1024 }, { type: 'string', pattern: '^[1-9]\\d{0,3}%?$' }] }
const ADDRESSES = { anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] }
const UNDER_PRESSURE = {
  type: 'object',
  additionalProperties: false,
  properties: Object.fromEntries(
    ['maxEventLoopDelay', 'maxHeapUsedBytes', 'maxRssBytes', 'maxEventLoopUtilization', 'retryAfter', 'sampleInterval']
      .map((k) => [k, { type: 'number', minimum: 0 }]),
  ),
}

const CANARY = {
  type: 'object',
  additionalProperties: false,
  properties: {
    enabled: { type: 'boolean' },
    window: DURATION,
    minRequests: { type: 'integer', minimum: 1 },
    share: SHARE,
    maxErrorRatio: { type: 'number', minimum: 0, maximum: 1 },
    maxErrorRatioVsOld: { type: 'number', minimum: 1 },
    maxLatencyRatio: { type: 'number', minimum: 1 },
    minLatency: DURATION,
    check: { type: 'string', pattern: '^https?://' },
  },
}

function schemaOf(kind: KeyKind): object {
  switch (kind) {
    case 'addresses': return ADDRESSES
    case 'string': return { type: 'string' }
    case 'boolean': return { type: 'boolean' }
    case 'integer': return { type: 'integer', minimum: 1, maximum: 1024 }
    case 'count': return { type: 'integer', minimum: 0 }
    case 'duration': return DURATION
    case 'bytes': return BYTES
    case 'object': return UNDER_PRESSURE
    case 'fastify': return FASTIFY_OPTIONS_SCHEMA
    case 'share': return SHARE
    case 'canary': return CANARY
  }
}

const properties: Record<string, object> = Object.fromEntries(
  Object.entries(ConfigKeys).map(([key, spec]) => [key, schemaOf(spec.kind)]),
)
properties.logLevel = { type: 'string', enum: LogLevels }
properties.metricsAccess = { type: 'string', enum: MetricsAccess }

export const settingsSchema = { type: 'object', additionalProperties: false, properties }

/** The schema as the validators were compiled from it: a precompiled one made from another is not used. */
export const schemaText = (): string => JSON.stringify(settingsSchema)
export const ajvOptions = (coerce: boolean) => ({ allErrors: false, strict: true, coerceTypes: coerce })
/** Written beside this file at build time by config/compile-validators.ts (ajv standalone code). */
export const ValidatorFiles = { plain: 'settings-validate.cjs', coercing: 'settings-validate-coercing.cjs' } as const

/**
 * Compiled when Smooth is built, not in each process: compiling the schema cost ~50 ms of CPU in every
 * worker's boot (a rollout boots N at once) and kept ajv's compiler in the primary. Loaded on first
 * use, each: most processes only check settings given in code (no coercion). A build made without the
 * build step (plain tsc), or from another schema, compiles here as before.
 */
const localRequire = createRequire(import.meta.url)
const validators: { plain?: ValidateFunction; coercing?: ValidateFunction } = {}
const validator = (coerce: boolean): ValidateFunction => {
  const kind = coerce ? 'coercing' : 'plain'
  return validators[kind] ??= precompiled(kind) ?? compile(coerce)
}

function compile(coerce: boolean): ValidateFunction {
  const { Ajv } = localRequire('ajv') as typeof import('ajv')
  return new Ajv(ajvOptions(coerce)).compile(settingsSchema)
}

function precompiled(kind: keyof typeof ValidatorFiles): ValidateFunction | undefined {
  try {
    const compiled = localRequire(`./${ValidatorFiles[kind]}`) as ValidateFunction & { schema?: string }
    return compiled.schema === schemaText() ? compiled : undefined
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND') return undefined
    throw err
  }
}

/** What the user wrote at an ajv instance path, for the message. */
function valueAt(value: unknown, instancePath: string): unknown {
  let v = value
  for (const part of instancePath.split('/').slice(1)) v = (v as Record<string, unknown> | undefined)?.[part]
  return v
}

function describe(err: ErrorObject, where: string, prefix: string, value: unknown): SmoothError {
  if (err.keyword === 'additionalProperties') {
    const key = (err.params as { additionalProperty: string }).additionalProperty
    const path = `${prefix}${err.instancePath.replace(/^\//, '').replace(/\//g, '.')}`
    const sep = path && !path.endsWith('.') ? '.' : ''
    return new SmoothError('SMOOTH_CONFIG_UNKNOWN_KEY', `"${path}${sep}${key}" in ${where}`)
  }
  const path = prefix + err.instancePath.replace(/^\//, '').replace(/\//g, '.')
  const key = err.instancePath.replace(/^\//, '')
  const kind = (ConfigKeys as Record<string, { kind: string }>)[key]?.kind
  const detail = err.keyword !== 'anyOf' ? err.message
    : kind === 'bytes' ? 'must be a number of bytes or a size like "512MB"'
      : kind === 'share' || key === 'canary/share' ? 'must be a number of workers or a percentage like "50%"'
        : 'must be a number of seconds (30) or a number with one unit and no space: "500ms", "30s", "5m", "1h"'
  return new SmoothError('SMOOTH_CONFIG_INVALID', `"${path}" ${detail}, not ${JSON.stringify(valueAt(value, err.instancePath))} (in ${where})`)
}

/** Validates one layer of settings; throws a SmoothError naming the key and where it came from. */
export function checkSettings(value: unknown, where: string, prefix = '', coerce = false): void {
  const validate = validator(coerce)
  // A check function (given in code) is not JSON: the schema checks the rest of the section.
  const canary = (value as { canary?: { check?: unknown } } | undefined)?.canary
  if (canary && typeof canary.check === 'function') {
    const { check: _fn, ...rest } = canary
    value = { ...(value as object), canary: rest }
  }
  if (!validate(value)) throw describe(validate.errors![0]!, where, prefix, value)
  const fastify = (value as { fastify?: Record<string, unknown> }).fastify
  if (fastify) checkFastifyOptions(fastify, `${prefix}fastify in ${where}`)
}

/** "2s" -> 2000; 2 -> 2000 (numbers are seconds, as in GoFrame). */
export function toMs(value: number | string | undefined, fallbackMs: number): number {
  if (value === undefined) return fallbackMs
  if (typeof value === 'number') return Math.round(value * 1000)
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(value)!
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? 's']!
  return Math.round(Number(m[1]) * unit)
}

/** "512MB" -> 536870912; 1000 -> 1000. Units are binary, as PM2's max_memory_restart reads them. */
export function toBytes(value: number | string | undefined): number {
  if (value === undefined) return 0
  if (typeof value === 'number') return Math.round(value)
  const m = /^(\d+(?:\.\d+)?)\s*([kmg]?)/i.exec(value)!
  const unit = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2]!.toLowerCase()]!
  return Math.round(Number(m[1]) * unit)
}
