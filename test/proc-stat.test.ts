/**
 * /proc/<pid>/stat reading (src/proc-stat.ts) and the OS seam's `running` built on it, against real
 * processes: this one, and a child that has exited. Linux only (skipped where there is no /proc).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { procStat } from '../src/proc-stat.js'
import { realOs } from '../src/primary/os.js'

const linux = existsSync('/proc/self/stat')

test('procStat: the fields after the command name; undefined for a process that is gone', { skip: !linux && 'no /proc (not Linux)' }, async () => {
  const own = procStat(process.pid)!
  assert.ok(['R', 'S'].includes(own[0]!), `state ${own[0]}`)
  assert.equal(Number(own[1]), process.ppid, 'ppid is field 4')
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' })
  const [code] = await once(child, 'exit') as [number]
  assert.equal(code, 0)
  assert.equal(procStat(child.pid!), undefined, 'reaped: gone')
  assert.equal(realOs.running(process.pid), true)
  assert.equal(realOs.running(child.pid!), false)
})
