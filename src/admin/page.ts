/**
 * The admin page: one HTML document with inline CSS and JS, no external assets (it works offline).
 * It shows nothing by itself: everything comes from `{pattern}/status`, polled every second, so the
 * page can be served to anyone allowed to reach admin and still asks for the token first.
 */
export function renderPage(prefix: string, tokenRequired: boolean): string {
  const base = prefix.replace(/\/$/, '')
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Smooth admin</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1d2330}
header{background:#1d2330;color:#fff;padding:12px 20px;display:flex;gap:24px;align-items:baseline;flex-wrap:wrap}
header h1{font-size:18px;margin:0}main{padding:16px 20px;display:grid;gap:16px;max-width:1100px}
section{background:#fff;border:1px solid #dde1e8;border-radius:6px;padding:12px 16px}
h2{font-size:15px;margin:0 0 8px}table{border-collapse:collapse;width:100%}
td,th{text-align:left;padding:4px 8px;border-bottom:1px solid #eef0f4;font-variant-numeric:tabular-nums}
.ready{color:#137333}.starting{color:#b06000}.draining{color:#a50e0e}.unresponsive{color:#a50e0e;font-weight:bold}.failure{color:#a50e0e}.success{color:#137333}
button{font:inherit;padding:6px 14px;border-radius:4px;border:1px solid #8a93a6;background:#fff;cursor:pointer}
button.danger{border-color:#a50e0e;color:#a50e0e}input{font:inherit;padding:5px 8px;width:340px}
#progress{font-weight:600}#error{color:#a50e0e}.muted{color:#6b7385}
</style></head><body>
<header><h1>Smooth admin</h1><span id="summary" class="muted">loading…</span><span id="build" class="muted"></span></header>
<main>
<section id="login" hidden><h2>Admin token</h2>
<form id="loginForm"><input id="token" type="password" autocomplete="current-password" placeholder="admin token">
<button type="submit">Sign in</button></form><p id="loginError" class="failure"></p></section>
<section id="actions"><h2>Actions</h2>
<p><button id="reload">Reload workers</button>
<button id="restart">Restart</button> <input id="exe" placeholder="new executable or entry (optional)">
<button id="shutdown" class="danger">Shut down</button>
<label><input id="canary" type="checkbox" style="width:auto"> as a canary</label></p>
<p><input id="workersWanted" type="number" min="1" style="width:6em"> <button id="scale">Scale workers</button></p>
<p id="progress"></p><p id="error"></p></section>
<section id="canarySection" hidden><h2>Canary <span id="canaryPhase"></span></h2><table id="canaryFigures"></table><p id="canaryWhy" class="muted"></p></section>
<section><h2>Servers</h2><table id="servers"></table></section>
<section><h2>Workers <span id="wanted"></span></h2><table id="workers"></table></section>
<section><h2>Last rollouts</h2><table id="history"></table></section>
</main>
<script>
const base = ${JSON.stringify(base)}
const tokenRequired = ${tokenRequired}
const $ = (id) => document.getElementById(id)
const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => '&#' + c.charCodeAt(0) + ';')
const age = (ms) => ms < 60000 ? Math.round(ms / 1000) + ' s' : ms < 3600000 ? Math.round(ms / 60000) + ' min' : (ms / 3600000).toFixed(1) + ' h'
const mb = (b) => b == null ? '' : (b / 1048576).toFixed(0) + ' MiB'
function row(cells, tag = 'td') { return '<tr>' + cells.map((c) => '<' + tag + '>' + c + '</' + tag + '>').join('') + '</tr>' }
function render(s) {
  $('summary').textContent = 'generation ' + s.generation + ' · primary pid ' + s.pid + (s.anchorPid ? ' · anchor pid ' + s.anchorPid : '') + ' · up ' + age(s.uptimeMs) + ' · ' + s.state + (s.graceful ? '' : ' · graceful off')
  const b = s.build
  $('build').textContent = b ? 'running ' + b.entry + (b.entryResolved !== b.entry ? ' (' + b.entryResolved + ')' : '') + (b.version ? ' · version ' + b.version : '') + ' · node ' + b.node + ' · since ' + new Date(b.startedAt).toLocaleString() + (b.startedWith !== b.entry ? ' · started with ' + b.startedWith : '') + ' · signal pid ' + b.signalPid : ''
  $('servers').innerHTML = row(['server', 'protocol', 'address'], 'th') + s.servers.flatMap((sv) => sv.listeners.map((l) => row([esc(sv.name), esc(l.protocol), esc(l.address)]))).join('')
  const now = Date.now()
  $('workers').innerHTML = row(['id', 'pid', 'state', 'in flight', 'connections', 'memory', 'age'], 'th') + s.workers.map((w) =>
    row([w.id, w.pid, '<span class="' + esc(w.state) + '">' + esc(w.state) + (w.state === 'unresponsive' ? ' for ' + age(w.lastSeenMs) : '') + '</span>', w.inflight ?? '', w.connections ?? '', mb(w.rss), age(now - w.startedAt)])).join('')
  const r = s.rollout
  $('progress').textContent = r ? r.kind + ' #' + r.id + ' running: ' + r.progress.done + ' of ' + r.progress.total + ' · ' + r.progress.step + ' · ' + age(now - r.startedAt) : ''
  $('history').innerHTML = row(['#', 'kind', 'result', 'duration', 'when', 'error'], 'th') + s.rollouts.map((h) =>
    row([h.id, esc(h.kind), '<span class="' + esc(h.result) + '">' + esc(h.result) + '</span>', h.durationMs != null ? (h.durationMs / 1000).toFixed(1) + ' s' : '', new Date(h.startedAt).toLocaleTimeString(), esc(h.error ? h.error.code + ': ' + h.error.message : '')])).join('')
  // The running canary's figures beside the old workers'; after it, the last decision.
  const c = (r && r.canary) || (s.rollouts[0] && s.rollouts[0].canary)
  $('canarySection').hidden = !c
  if (c) {
    const pct = (x) => (x * 100).toFixed(2) + ' %'
    const p99 = (v) => v == null ? 'n/a' : v.toFixed(1) + ' ms'
    $('canaryPhase').textContent = '(' + c.phase + ' · ' + age(c.elapsedMs) + ' of ' + age(c.windowMs) + ' · workers ' + c.workers.join(', ') + ')'
    $('canaryFigures').innerHTML = row(['', 'requests', '5xx', '5xx ratio', 'p99', 'mean'], 'th') +
      row(['canary', c.canary.requests, c.canary.errors, pct(c.canary.errorRatio), p99(c.canary.p99Ms), p99(c.canary.meanMs)]) +
      row(['old workers', c.old.requests, c.old.errors, pct(c.old.errorRatio), p99(c.old.p99Ms), p99(c.old.meanMs)])
    $('canaryWhy').textContent = c.decision ? c.decision.result + (c.decision.reason ? ' (' + c.decision.reason + ')' : '') + ': ' + c.decision.why : 'judged after ' + age(c.windowMs) + ' and at least ' + c.minRequests + ' requests'
  }
  $('wanted').textContent = '(' + s.workersWanted + ' wanted)'
  $('workersWanted').placeholder = String(s.workersWanted)
  $('scale').disabled = Boolean(r) || s.state !== 'serving'
  for (const id of ['reload', 'restart']) $(id).disabled = Boolean(r) || !s.graceful || s.state !== 'serving'
}
async function poll() {
  try {
    const res = await fetch(base + '/status', { credentials: 'same-origin' })
    if (res.status === 401) { $('login').hidden = false; $('summary').textContent = 'sign in to see the server'; return }
    $('login').hidden = true
    if (res.ok) render(await res.json())
  } catch { $('summary').textContent = 'server unreachable (restarting?)' }
}
async function act(command, query) {
  if (!confirm('Really ' + command + ' the server?')) return
  $('error').textContent = ''
  const res = await fetch(base + '/' + command + (query || ''), { method: 'POST', credentials: 'same-origin' })
  const body = await res.json().catch(() => ({}))
  if (res.status >= 400) $('error').textContent = command + ': ' + (body.code ? body.code + ': ' : '') + (body.error || res.status)
  poll()
}
const canaryArg = () => $('canary').checked ? 'canary=1' : ''
const query = (...parts) => { const q = parts.filter(Boolean).join('&'); return q ? '?' + q : '' }
$('reload').onclick = () => act('reload', query(canaryArg()))
$('restart').onclick = () => act('restart', query($('exe').value ? 'newExeFilePath=' + encodeURIComponent($('exe').value) : '', canaryArg()))
$('shutdown').onclick = () => act('shutdown')
$('scale').onclick = () => act('scale', '?workers=' + encodeURIComponent($('workersWanted').value))
$('loginForm').onsubmit = async (e) => {
  e.preventDefault()
  const res = await fetch(base + '/login', { method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: $('token').value }) })
  $('loginError').textContent = res.ok ? '' : 'wrong token'
  poll()
}
if (tokenRequired) $('login').hidden = true
poll(); setInterval(poll, 1000)
</script></body></html>`
}
