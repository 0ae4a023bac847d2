import { cpus, totalmem, release } from 'node:os'
import { execFileSync } from 'node:child_process'

/** The machine line every benchmark section records. */
export function machine(): string {
  let wrkVersion = 'wrk ?'
  try {
    wrkVersion = execFileSync('wrk', ['-v'], { encoding: 'utf8' }).split('\n')[0]!.trim()
  } catch (err) {
    wrkVersion = String((err as { stdout?: string }).stdout ?? 'wrk').split('\n')[0]!.trim()
  }
  const cpu = cpus()
  return `${cpu.length} × ${cpu[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${release()}, Node ${process.version}, ${wrkVersion}`
}
