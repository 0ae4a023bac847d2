import { readFileSync, existsSync } from 'node:fs'
import { resolve, extname } from 'node:path'
import { createRequire } from 'node:module'
import { SmoothError } from '../errors.js'
import { ConfigKeys, envName, type ServerSettings } from './keys.js'
import { checkSettings } from './schema.js'
import { EnvNames } from '../env.js'

export interface FileConfig {
  path?: string
  /** The `server` section: applies to every server. */
  base: ServerSettings
  /** `server.<name>` sections: apply to the named server on top of `base`. */
  named: Record<string, ServerSettings>
}

/** yaml is loaded only when there is a YAML file to read: every process would otherwise keep it. */
const parseYaml = (text: string): unknown => (createRequire(import.meta.url)('yaml') as typeof import('yaml')).parse(text)

const DEFAULT_FILES = ['smooth.yaml', 'smooth.yml', 'smooth.json']

/** Finds the config file: $SMOOTH_CONFIG (must exist) or the first of smooth.{yaml,yml,json} in cwd. */
export function findConfigFile(env = process.env, cwd = process.cwd()): string | undefined {
  const explicit = env.SMOOTH_CONFIG
  if (explicit) return resolve(cwd, explicit)
  return DEFAULT_FILES.map((f) => resolve(cwd, f)).find((p) => existsSync(p))
}

/**
 * Reads the file. Layout (GoFrame's): a top-level `server` section whose keys are options for every
 * server, and whose object-valued keys that are not options are sections for named servers.
 */
export function loadConfigFile(path: string | undefined): FileConfig {
  if (!path) return { base: {}, named: {} }
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    throw new SmoothError('SMOOTH_CONFIG_FILE', `${path}: ${(err as Error).message}`)
  }
  let doc: unknown
  try {
    doc = extname(path) === '.json' ? JSON.parse(text) : parseYaml(text)
  } catch (err) {
    throw new SmoothError('SMOOTH_CONFIG_FILE', `${path}: ${(err as Error).message.split('\n')[0]}`)
  }
  if (doc === null || doc === undefined) return { path, base: {}, named: {} }
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    throw new SmoothError('SMOOTH_CONFIG_INVALID', `the top level of ${path} must be a mapping with a "server" key`)
  }
  for (const key of Object.keys(doc)) {
    if (key !== 'server') throw new SmoothError('SMOOTH_CONFIG_UNKNOWN_KEY', `"${key}" in ${path} (only "server" is read)`)
  }
  const section = (doc as { server?: unknown }).server ?? {}
  if (typeof section !== 'object' || section === null || Array.isArray(section)) {
    throw new SmoothError('SMOOTH_CONFIG_INVALID', `"server" must be a mapping (in ${path})`)
  }
  const base: Record<string, unknown> = {}
  const named: Record<string, ServerSettings> = {}
  for (const [key, value] of Object.entries(section)) {
    const isNamedSection = !(key in ConfigKeys) && typeof value === 'object' && value !== null && !Array.isArray(value)
    if (isNamedSection) {
      checkSettings(value, path, `server.${key}.`)
      named[key] = value as ServerSettings
    } else {
      base[key] = value
    }
  }
  checkSettings(base, path, 'server.')
  return { path, base: base as ServerSettings, named }
}

/** The SMOOTH_* variables Smooth reads: one per config key, its own, and those it hands between processes. */
const KNOWN_ENV = new Set([...Object.keys(ConfigKeys).map(envName), ...Object.values(EnvNames)])

/**
 * SMOOTH_<KEY> environment overrides (apply to every server). Values are coerced, then checked. A
 * SMOOTH_* variable Smooth does not know is a typo as surely as an unknown key in the file.
 */
export function loadEnvSettings(env = process.env): ServerSettings {
  for (const name of Object.keys(env)) {
    if (name.startsWith('SMOOTH_') && !KNOWN_ENV.has(name) && env[name] !== undefined) {
      const near = [...KNOWN_ENV].find((k) => editDistance(k, name) <= 2)
      throw new SmoothError('SMOOTH_CONFIG_UNKNOWN_KEY', `"${name}" in the environment${near ? ` (did you mean ${near}?)` : ''}`)
    }
  }
  const out: Record<string, unknown> = {}
  for (const key of Object.keys(ConfigKeys)) {
    const raw = env[envName(key)]
    if (raw === undefined || raw === '') continue
    if (key === 'underPressure' || key === 'fastify' || key === 'canary') {
      try {
        out[key] = JSON.parse(raw)
      } catch {
        throw new SmoothError('SMOOTH_CONFIG_INVALID', `"${envName(key)}" must be JSON (in the environment)`)
      }
    } else {
      out[key] = raw
    }
  }
  if (Object.keys(out).length === 0) return out
  try {
    checkSettings(out, 'the environment', '', true)
  } catch (err) {
    // Name the variable rather than the key: that is what the user typed.
    const e = err as SmoothError
    e.message = e.message.replace(/"([a-zA-Z]+)/, (_m, k: string) => `"${envName(k)}`)
    throw e
  }
  return out as ServerSettings
}

/** Levenshtein distance, for "did you mean". */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const row = [i]
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1))
    prev = row
  }
  return prev[b.length]!
}
