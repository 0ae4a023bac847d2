/** One sample of a Prometheus text exposition. */
export interface Sample { name: string; labels: Record<string, string>; value: number; key: string }

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g

/** Parses the text format (what this project's tests need of it: samples, names and label sets). */
export function parseExposition(text: string): Sample[] {
  const out: Sample[] = []
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const m = LINE.exec(line)
    if (!m) throw new Error(`not an exposition line: ${line}`)
    const labels: Record<string, string> = {}
    for (const l of (m[2] ?? '').matchAll(LABEL)) labels[l[1]!] = l[2]!
    const key = `${m[1]}{${Object.keys(labels).sort().map((k) => `${k}="${labels[k]}"`).join(',')}}`
    out.push({ name: m[1]!, labels, value: Number(m[3]), key })
  }
  return out
}

/** Series that appear more than once in one exposition. */
export function duplicates(samples: Sample[]): string[] {
  const seen = new Set<string>()
  const dup: string[] = []
  for (const s of samples) {
    if (seen.has(s.key)) dup.push(s.key)
    seen.add(s.key)
  }
  return dup
}

/** Sum of a metric's samples whose labels match `where`. */
export function total(samples: Sample[], name: string, where: Record<string, string> = {}): number {
  return samples.filter((s) => s.name === name && Object.entries(where).every(([k, v]) => s.labels[k] === v)).reduce((a, s) => a + s.value, 0)
}
