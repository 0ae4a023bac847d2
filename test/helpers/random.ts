/** A seeded generator (mulberry32), so a failing random-input test can be replayed with its seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)]!
}

/** A string of `max` characters at most, from a mix of plain, special and non-ASCII characters. */
export function randomString(r: () => number, max = 40): string {
  const alphabets = ['abcxyz019', '/.:-_ %&?=#;,"\'\\{}[]<>$', '\u0000\n\r\t', 'éü\u2028\ud83d\ude00', '../']
  let s = ''
  const n = Math.floor(r() * max)
  for (let i = 0; i < n; i++) s += pick(r, [...pick(r, alphabets)])
  return s
}

/** A random JSON-able value: scalars of every kind, arrays, nested objects. */
export function randomValue(r: () => number, depth = 0): unknown {
  const kinds = depth > 2 ? 6 : 8
  switch (Math.floor(r() * kinds)) {
    case 0: return randomString(r)
    case 1: return Math.floor((r() - 0.5) * 2 ** Math.floor(r() * 60))
    case 2: return r() < 0.5
    case 3: return null
    case 4: return pick(r, ['', ':', ':0', ':99999', '127.0.0.1:0', '1s', '-5s', '1e9s', 'NaN', 'true', '0', '500ms', '::1', '[::1]:0', 'x'.repeat(5000)])
    case 5: return r() * 1e6
    case 6: return Array.from({ length: Math.floor(r() * 4) }, () => randomValue(r, depth + 1))
    default: return Object.fromEntries(Array.from({ length: Math.floor(r() * 4) }, () => [randomString(r, 10), randomValue(r, depth + 1)]))
  }
}
