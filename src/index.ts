import cluster from 'node:cluster'
import { env, EnvNames } from './env.js'
import { installRuntime } from './server.js'

// The entry picks the role, nothing more (node's lib/cluster.js does the same). The runtime is made
// at import (a top-level await: the user's `import` of this module waits for it) so its signal
// handlers exist before the user's code runs: an early Ctrl-C must not kill a worker, and an early
// SIGUSR1 must not open the inspector of a primary. Each role loads only its own code: the anchor
// never loads Fastify or prom-client, the primary never loads a worker's request path.
installRuntime(await pickRole())

async function pickRole() {
  if (cluster.isWorker && env.role() === 'worker') return (await import('./worker/worker.js')).createWorkerRuntime()
  if (env.role() === 'primary' || process.env[EnvNames.anchor] === '0') return (await import('./primary/primary.js')).createPrimaryRuntime()
  return (await import('./anchor/anchor.js')).createAnchorRuntime()
}

export { server, wait, Server, type SetupStep } from './server.js'
export { SmoothError, ErrorCodes, type ErrorCode } from './errors.js'
export type { ServerSettings, UnderPressureLimits } from './config/keys.js'
