/**
 * `node dist/bench/anchor-rss.js [rounds]`: the anchor's resident memory at idle under the demo (its
 * default settings: a worker per core, admin and metrics on), side by side with a bare
 * `node -e 'setInterval(()=>{},1e6)'`, alternating, `rounds` (default 7) each. Each figure is read
 * after the process has idled IDLE_MS (the demo: after `server ready`). Rewrites the "anchor" block
 * of BENCHMARKS.md with every round's figures (`npm run bench` keeps that block as it is).
 */
import { spawn } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { ROOT, SmoothProcess, dist } from '../test/helpers/proc.js'
import { freePort } from '../test/helpers/ports.js'
import { rssMiB } from './tree.js'
import { median } from './hello.js'
import { machine } from './machine.js'

const IDLE_MS = 3000
const TARGET_MIB = 50
const rounds = Number(process.argv[2] ?? 7)

async function demoAnchor(): Promise<number> {
  const p = new SmoothProcess(dist('examples/demo.js'), { HOST: '127.0.0.1', PORT: String(await freePort()) })
  try {
    await p.waitForMsg('server ready', 60_000)
    await sleep(IDLE_MS)
    return rssMiB(p.pid)
  } finally {
    p.kill()
    await p.exited
  }
}

async function bareNode(): Promise<number> {
  const child = spawn(process.execPath, ['-e', 'setInterval(()=>{},1e6)'], { stdio: 'ignore' })
  try {
    await sleep(IDLE_MS)
    return rssMiB(child.pid!)
  } finally {
    child.kill('SIGKILL')
    await new Promise((r) => child.once('exit', r))
  }
}

const anchor: number[] = []
const bare: number[] = []
for (let r = 0; r < rounds; r++) {
  for (const who of r % 2 === 0 ? ['anchor', 'bare'] as const : ['bare', 'anchor'] as const) {
    const mib = who === 'anchor' ? await demoAnchor() : await bareNode()
    ;(who === 'anchor' ? anchor : bare).push(mib)
    console.log(`round ${r + 1}: ${who} ${mib.toFixed(1)} MiB`)
  }
}
const f = (xs: number[]): string => xs.map((x) => x.toFixed(1)).join(', ')
const a = median(anchor)
const b = median(bare)
const md = `<!-- anchor -->
## Anchor RSS at idle under the demo, beside a bare node

Command: \`npm run build && node dist/bench/anchor-rss.js ${rounds}\` (${new Date().toISOString().slice(0, 10)}). The demo at its
default settings (\`dist/examples/demo.js\`, a worker per core, admin and metrics on): the anchor's VmRSS
${IDLE_MS / 1000} s after \`server ready\`; a bare \`node -e 'setInterval(()=>{},1e6)'\`: its VmRSS ${IDLE_MS / 1000} s after spawn.
Alternating, ${rounds} rounds each. Machine: ${machine()}.

| process | RSS MiB per round | median |
|---|---|---|
| anchor (demo) | ${f(anchor)} | **${a.toFixed(1)}** |
| bare node | ${f(bare)} | ${b.toFixed(1)} |

Anchor over a bare node: **+${(a - b).toFixed(1)} MiB** (median). Target ≤ ${TARGET_MIB} MiB: **${a <= TARGET_MIB ? 'met' : 'not met'}**.
<!-- /anchor -->
`
const file = resolve(ROOT, 'BENCHMARKS.md')
const text = readFileSync(file, 'utf8')
const block = /<!-- anchor -->[\s\S]*<!-- \/anchor -->\n?/
writeFileSync(file, block.test(text) ? text.replace(block, md) : text.replace('<!-- soak -->', `${md}\n<!-- soak -->`))
console.log(md)
