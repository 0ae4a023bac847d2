import { watch, type FSWatcher } from 'node:fs'
import type { Logger } from 'pino'

/** Edits that arrive within this long of each other are one change (an editor's save is several events). */
const DEBOUNCE_MS = 150
const IGNORED = /(^|[/\\])(node_modules|\.git|\.smooth|dist|coverage)([/\\]|$)|~$|\.swp$/

/**
 * `smooth dev`: watches the app's directory and reloads the workers when a file changes. A reload
 * starts new workers from the files on disk and retires the old ones only once a new one is ready, so
 * a broken edit (a syntax error, a throw at start) fails that reload, is shown, and the previous
 * workers keep serving. Changes during a reload start one more reload after it, so the last save wins.
 */
export function watchAndReload(dir: string, reload: () => Promise<unknown>, log: Logger): FSWatcher {
  let timer: NodeJS.Timeout | undefined
  let running = false
  let pending = false
  const roll = async (): Promise<void> => {
    if (running) {
      pending = true
      return
    }
    running = true
    try {
      await reload()
      log.info('dev: workers reloaded with your change')
    } catch (err) {
      const e = err as { code?: string; message: string }
      log.error({ code: e.code }, `dev: your change does not start (the previous workers keep serving): ${e.message}`)
    } finally {
      running = false
      if (pending) {
        pending = false
        void roll()
      }
    }
  }
  const watcher = watch(dir, { recursive: true }, (_event, file) => {
    if (file && IGNORED.test(file)) return
    clearTimeout(timer)
    timer = setTimeout(() => void roll(), DEBOUNCE_MS)
  })
  watcher.on('error', (err) => log.warn({ err: err.message }, 'dev: file watching stopped'))
  log.info({ dir }, 'dev: watching for changes')
  return watcher
}
