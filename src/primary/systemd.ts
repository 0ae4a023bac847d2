import { execFile } from 'node:child_process'
import type { Logger } from 'pino'

/**
 * Tells systemd (Type=notify, NotifyAccess=all) that this process is ready and is the main pid now.
 * Only without an anchor: with one, the anchor's pid never changes. Node has no Unix datagram
 * sockets, so this uses systemd's own `systemd-notify` tool; without NOTIFY_SOCKET it does nothing.
 */
export function notifySystemd(log: Logger, states: Record<string, string | number>): void {
  if (!process.env.NOTIFY_SOCKET) return
  const args = Object.entries(states).map(([k, v]) => `${k}=${v}`)
  execFile('systemd-notify', args, (err) => {
    if (err) log.warn({ err: err.message }, 'systemd-notify failed')
  })
}
