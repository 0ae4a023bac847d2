import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { chromium } from 'playwright-core'
import { SmoothProcess, dist, killAll, ROOT } from './helpers/proc.js'
import { requires, which } from './helpers/requires.js'

after(killAll)
const ARTIFACTS = join(ROOT, 'test-artifacts')

test('admin page in a real browser: sign in, reload with progress, restart to a new generation', { timeout: 120_000, ...requires('chromium') }, async () => {
  mkdirSync(ARTIFACTS, { recursive: true })
  const p = new SmoothProcess(dist('test/fixtures/app.js'), { GRACEFUL: '1', WORKERS: '2', SMOOTH_ADMIN_TOKEN: 'browser-token' })
  // Playwright makes a fresh profile directory itself; the flags are this machine's (see the issue).
  const browser = await chromium.launch({
    executablePath: which('chromium'),
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
  })
  try {
    const port = await p.ready()
    const page = await browser.newPage({ viewport: { width: 1100, height: 900 } })
    page.on('dialog', (d) => void d.accept())
    await page.goto(`http://127.0.0.1:${port}/debug/admin`)
    await page.waitForSelector('#login:not([hidden])', { timeout: 10_000 })
    await page.fill('#token', 'wrong')
    await page.click('#loginForm button')
    await page.waitForFunction(() => document.getElementById('loginError')!.textContent === 'wrong token', undefined, { timeout: 10_000 })
    await page.fill('#token', 'browser-token')
    await page.click('#loginForm button')
    await page.waitForSelector('#login', { state: 'hidden', timeout: 10_000 })
    await page.waitForFunction(() => document.querySelectorAll('#workers .ready').length === 2, undefined, { timeout: 10_000 })
    const before = await page.$$eval('#workers tr td:nth-child(2)', (tds) => tds.map((t) => t.textContent))
    // Which version runs: the entry, the app's version and node's.
    const build = (await page.textContent('#build')) ?? ''
    assert.ok(build.includes('fixtures/app.js') && build.includes(`node ${process.version}`) && /version \d+\.\d+/.test(build), build)
    await page.screenshot({ path: join(ARTIFACTS, 'admin-1-signed-in.png') })

    await page.click('#reload')
    await page.waitForFunction(() => /reload #\d+ running: \d of 2/.test(document.getElementById('progress')!.textContent!), undefined, { timeout: 10_000 })
    await page.screenshot({ path: join(ARTIFACTS, 'admin-2-reloading.png') })
    await page.waitForFunction((old) => {
      const pids = [...document.querySelectorAll('#workers tr td:nth-child(2)')].map((t) => t.textContent)
      return document.getElementById('progress')!.textContent === '' && pids.length === 2 && pids.every((x) => !old.includes(x))
    }, before, { timeout: 30_000 })
    const summaryBefore = await page.textContent('#summary')

    await page.click('#restart')
    await page.waitForFunction(() => /generation 2 · primary pid/.test(document.getElementById('summary')!.textContent!), undefined, { timeout: 30_000 })
    await page.waitForFunction(() => document.querySelectorAll('#history .success').length >= 2, undefined, { timeout: 30_000 })
    const summaryAfter = await page.textContent('#summary')
    const pid = (s: string | null) => /primary pid (\d+)/.exec(s ?? '')?.[1]
    assert.notEqual(pid(summaryAfter), pid(summaryBefore), 'the primary pid changed')
    await page.screenshot({ path: join(ARTIFACTS, 'admin-3-restarted.png'), fullPage: true })
    const history = await page.$$eval('#history tr td:nth-child(2)', (tds) => tds.map((t) => t.textContent))
    assert.deepEqual(history.slice(0, 2), ['restart', 'reload'])
  } finally {
    await browser.close()
    p.kill()
  }
})
