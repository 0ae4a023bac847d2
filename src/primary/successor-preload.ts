/**
 * Loaded (--import) into a successor primary only. If its start-up throws, the error is written to the
 * file the previous generation named, which reports it with the exit code. Synchronous on purpose:
 * the process is about to exit.
 */
import { writeFileSync } from 'node:fs'

const file = process.env.SMOOTH_FAILURE_FILE
if (file) {
  process.on('uncaughtExceptionMonitor', (err) => {
    try {
      writeFileSync(file, String((err as Error)?.stack ?? err).split('\n').slice(0, 12).join('\n'))
    } catch {
      // Nothing more can be done from here.
    }
  })
}
