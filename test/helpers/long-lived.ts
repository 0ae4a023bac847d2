import { request } from 'node:http'
import WebSocket from 'ws'

/** A WebSocket client that records its hello (the worker pid) and how it was closed. */
export function openWs(url: string, timeoutMs = 10_000): Promise<{ ws: WebSocket; pid: number; closed: Promise<{ code: number; reason: string }> }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url)
    const timer = setTimeout(() => { ws.terminate(); reject(new Error(`timed out waiting for the WebSocket hello of ${url}`)) }, timeoutMs)
    const closed = new Promise<{ code: number; reason: string }>((res) => ws.on('close', (code, reason) => res({ code, reason: reason.toString() })))
    ws.once('error', (err) => { clearTimeout(timer); reject(err) })
    ws.once('message', (m) => {
      clearTimeout(timer)
      resolve({ ws, pid: Number(String(m).split(' ')[1]), closed })
    })
  })
}

/** An SSE stream: resolves once the first event came; `ended` settles with everything received. */
export function openSse(url: string, timeoutMs = 10_000): Promise<{ pid: number; ended: Promise<{ text: string; clean: boolean }>; abort: () => void }> {
  return new Promise((resolve, reject) => {
    let text = ''
    let onEnd!: (r: { text: string; clean: boolean }) => void
    const ended = new Promise<{ text: string; clean: boolean }>((r) => (onEnd = r))
    const req = request(url, { agent: false }, (res) => {
      res.setEncoding('utf8')
      res.on('data', (c: string) => {
        const first = text === ''
        text += c
        if (first) {
          clearTimeout(timer)
          resolve({ pid: Number(/data: (\d+)/.exec(text)?.[1]), ended, abort: () => req.destroy() })
        }
      })
      res.on('end', () => onEnd({ text, clean: true }))
      res.on('error', () => onEnd({ text, clean: false }))
      res.on('aborted', () => onEnd({ text, clean: false }))
    })
    const timer = setTimeout(() => { req.destroy(); reject(new Error(`timed out waiting for the first event of ${url}`)) }, timeoutMs)
    req.on('error', (err) => { clearTimeout(timer); onEnd({ text, clean: false }); reject(err) })
    req.end()
  })
}

/**
 * WebSocket and SSE clients that reconnect as soon as they are told to (1012, or an SSE retry), as
 * well-behaved clients do. Anything else (another close code, a stream cut without a retry, a failed
 * connect) is recorded in `failures`.
 */
export function reconnectingClients(port: number, opts: { ws: number; sse: number }): { failures: string[]; reconnects: () => number; stop: () => Promise<void> } {
  let running = true
  let reconnects = 0
  const failures: string[] = []
  const stopped = (): Promise<undefined> => new Promise((r) => { const t = setInterval(() => { if (!running) { clearInterval(t); r(undefined) } }, 50) })
  const wsClient = async (): Promise<void> => {
    while (running) {
      try {
        const s = await openWs(`ws://127.0.0.1:${port}/ws`)
        const how = await Promise.race([s.closed, stopped()])
        if (!how) { s.ws.close(); return }
        if (how.code !== 1012) failures.push(`ws closed with ${how.code}`)
        reconnects++
      } catch (err) {
        failures.push(`ws: ${(err as Error).message}`)
        return
      }
    }
  }
  const sseClient = async (): Promise<void> => {
    while (running) {
      try {
        const s = await openSse(`http://127.0.0.1:${port}/sse`)
        const how = await Promise.race([s.ended, stopped()])
        if (!how) { s.abort(); return }
        if (!how.clean || !/retry: \d+/.test(how.text)) failures.push('sse ended without a retry')
        reconnects++
      } catch (err) {
        failures.push(`sse: ${(err as Error).message}`)
        return
      }
    }
  }
  const all = Promise.all([...Array.from({ length: opts.ws }, wsClient), ...Array.from({ length: opts.sse }, sseClient)])
  return { failures, reconnects: () => reconnects, stop: async () => { running = false; await all } }
}
