/** A small SVG line chart for pictures of real Prometheus data (docs/), rendered by Chromium. */
export interface ChartSeries { name: string; points: Array<[number, number]> }
export interface ChartPanel { title: string; unit: string; series: ChartSeries[]; stacked?: boolean }
export interface Marker { at: number; label: string }

const COLORS = ['#3274d9', '#e0752d', '#56a64b', '#c4162a', '#8f3bb8', '#f2cc0c']
const esc = (s: string): string => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`)

function fmt(v: number, unit: string): string {
  if (unit === 's') return v >= 1 ? `${v.toFixed(1)} s` : `${(v * 1000).toFixed(v < 0.01 ? 1 : 0)} ms`
  if (Math.abs(v) >= 1000) return `${(v / 1000).toFixed(1)}k${unit ? ' ' + unit : ''}`
  return `${Number.isInteger(v) ? v : v.toFixed(1)}${unit ? ' ' + unit : ''}`
}

function panelSvg(p: ChartPanel, markers: Marker[], t0: number, t1: number, w: number, h: number): string {
  const left = 70, right = 10, top = 28, bottom = 36
  const pw = w - left - right, ph = h - top - bottom
  let series = p.series.map((s) => ({ ...s, points: s.points.filter(([, v]) => Number.isFinite(v)) }))
  if (p.stacked) {
    const acc = new Map<number, number>()
    series = series.map((s) => ({ ...s, points: s.points.map(([t, v]) => { const base = acc.get(t) ?? 0; acc.set(t, base + v); return [t, base + v] as [number, number] }) }))
  }
  const max = Math.max(1e-9, ...series.flatMap((s) => s.points.map(([, v]) => v))) * 1.1
  const x = (t: number): number => left + ((t - t0) / (t1 - t0)) * pw
  const y = (v: number): number => top + ph - (v / max) * ph
  const parts: string[] = [`<rect x="0" y="0" width="${w}" height="${h}" fill="#181b1f" rx="4"/>`,
    `<text x="10" y="18" fill="#ccccdc" font-size="13" font-weight="600">${esc(p.title)}</text>`]
  for (let i = 0; i <= 4; i++) {
    const v = (max / 1.1) * (i / 4)
    parts.push(`<line x1="${left}" x2="${w - right}" y1="${y(v)}" y2="${y(v)}" stroke="#2c3235"/>`,
      `<text x="${left - 6}" y="${y(v) + 4}" fill="#8e8e8e" font-size="10" text-anchor="end">${esc(fmt(v, p.unit))}</text>`)
  }
  for (let s = 0; s <= (t1 - t0); s += Math.max(5, Math.round((t1 - t0) / 8 / 5) * 5)) {
    parts.push(`<text x="${x(t0 + s)}" y="${h - 20}" fill="#8e8e8e" font-size="10" text-anchor="middle">${s}s</text>`)
  }
  for (const m of markers) {
    parts.push(`<line x1="${x(m.at)}" x2="${x(m.at)}" y1="${top}" y2="${top + ph}" stroke="#ff9830" stroke-dasharray="4 3"/>`,
      `<text x="${x(m.at) + 3}" y="${top + 10}" fill="#ff9830" font-size="10">${esc(m.label)}</text>`)
  }
  series.forEach((s, i) => {
    if (s.points.length === 0) return
    const d = s.points.map(([t, v], j) => `${j ? 'L' : 'M'}${x(t).toFixed(1)},${y(v).toFixed(1)}`).join('')
    parts.push(`<path d="${d}" fill="none" stroke="${COLORS[i % COLORS.length]}" stroke-width="1.6"/>`)
  })
  let lx = left
  series.forEach((s, i) => {
    parts.push(`<rect x="${lx}" y="${h - 12}" width="10" height="3" fill="${COLORS[i % COLORS.length]}"/>`,
      `<text x="${lx + 14}" y="${h - 8}" fill="#ccccdc" font-size="10">${esc(s.name)}</text>`)
    lx += 24 + s.name.length * 6
  })
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="sans-serif">${parts.join('')}</svg>`
}

/** A page of panels sharing one time axis (seconds since `t0`), two a row. */
export function chartPage(title: string, panels: ChartPanel[], markers: Marker[], t0: number, t1: number): string {
  const w = 560, h = 230
  return `<!doctype html><html><body style="margin:0;background:#111217;padding:12px;width:${2 * w + 12}px">
<div style="color:#ccccdc;font:600 15px sans-serif;margin:0 0 8px">${esc(title)}</div>
<div style="display:grid;grid-template-columns:${w}px ${w}px;gap:12px">${panels.map((p) => panelSvg(p, markers, t0, t1, w, h)).join('')}</div>
</body></html>`
}
