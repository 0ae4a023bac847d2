import cluster from 'node:cluster'
import { env, EnvNames } from './env.js'
import { createAnchorRuntime } from './anchor/anchor.js'
import { installRuntime } from './server.js'
import { createPrimaryRuntime } from './primary/primary.js'
import { createWorkerRuntime } from './worker/worker.js'

// The entry picks the role, nothing more (node's lib/cluster.js does the same). The runtime is made
// at import so its signal handlers exist before the user's code runs: an early Ctrl-C must not kill a
// worker, and an early SIGUSR1 must not open the inspector of a primary.
installRuntime(pickRole())

function pickRole() {
  if (cluster.isWorker && env.role() === 'worker') return createWorkerRuntime()
  if (env.role() === 'primary' || process.env[EnvNames.anchor] === '0') return createPrimaryRuntime()
  return createAnchorRuntime()
}

export { server, wait, Server, type SetupStep } from './server.js'
export { SmoothError, ErrorCodes, type ErrorCode } from './errors.js'
export type { ServerSettings, UnderPressureLimits } from './config/keys.js'
