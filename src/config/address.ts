import { SmoothError } from '../errors.js'

export interface ListenAddress {
  /** As the user wrote it (":8199"), used in log lines and as the inheritance key. */
  text: string
  /** undefined = every interface, as Node's listen({ port }) does. */
  host?: string
  port: number
}

/** ":8199", "127.0.0.1:8199", "[::1]:8199", "8199". */
export function parseAddress(text: string): ListenAddress {
  const t = text.trim()
  const m = /^(?:(\[[^\]]+\]|[^:]*):)?(\d{1,5})$/.exec(t)
  const port = m ? Number(m[2]) : NaN
  if (!m || port > 65535) throw new SmoothError('SMOOTH_ADDRESS_INVALID', JSON.stringify(text))
  const rawHost = m[1] ?? ''
  const host = rawHost.startsWith('[') ? rawHost.slice(1, -1) : rawHost
  return host ? { text: t, host, port } : { text: t, port }
}

/** Accepts "a,b", ["a", "b"] or a single address. */
export function parseAddresses(value: string | string[] | undefined): ListenAddress[] {
  if (value === undefined) return []
  const list = Array.isArray(value) ? value : value.split(',')
  return list.map((s) => s.trim()).filter(Boolean).map(parseAddress)
}

/** The form GoFrame prints: [:8199] for a wildcard host, [127.0.0.1:41234] otherwise. */
export function displayAddress(host: string | undefined, port: number): string {
  if (!host) return `:${port}`
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`
}
