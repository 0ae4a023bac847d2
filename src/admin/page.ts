/** The admin page: plain HTML, no external assets, so it works offline. */
function esc(s: unknown): string {
  return String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

export function renderPage(status: unknown, prefix: string): string {
  const s = (status ?? {}) as { pid?: number; generation?: number; workers?: Array<Record<string, unknown>> }
  const rows = (s.workers ?? [])
    .map((w) => `<tr><td>${esc(w.id)}</td><td>${esc(w.pid)}</td><td>${esc(w.state)}</td></tr>`)
    .join('')
  return `<!doctype html><html><head><meta charset="utf-8"><title>Smooth admin</title></head><body>
<h1>Smooth admin</h1>
<p>primary pid <b>${esc(s.pid)}</b>, generation <b>${esc(s.generation)}</b></p>
<table border="1"><tr><th>worker</th><th>pid</th><th>state</th></tr>${rows}</table>
<p><a href="${esc(prefix)}/reload">reload</a> · <a href="${esc(prefix)}/restart">restart</a> ·
<a href="${esc(prefix)}/shutdown">shutdown</a> · <a href="${esc(prefix)}/status">status</a></p>
</body></html>`
}
