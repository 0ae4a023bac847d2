/**
 * Every error Smooth raises on purpose is a SmoothError with a stable `code`. Tests and callers compare
 * codes, never messages (Fastify `lib/errors.js`, Node `internal/errors`). Codes are never reused.
 */
export const ErrorCodes = {
  // Configuration
  SMOOTH_CONFIG_UNKNOWN_KEY: 'unknown config key %s',
  SMOOTH_CONFIG_INVALID: 'invalid config value: %s',
  SMOOTH_CONFIG_FILE: 'cannot read config file %s',
  SMOOTH_CERT_UNREADABLE: 'cannot read TLS %s file %s',
  SMOOTH_CERT_INVALID: 'invalid TLS certificate or key: %s',
  SMOOTH_ADDRESS_INVALID: 'invalid listen address %s',
  SMOOTH_NO_ADDRESS: 'server %s has no address to listen on',
  // Start-up
  SMOOTH_LISTEN_FAILED: 'cannot listen on %s',
  SMOOTH_WORKERS_NEVER_READY: 'no worker became ready: %s',
  SMOOTH_ALREADY_STARTED: 'server %s is already started',
  // Control and rollouts
  SMOOTH_GRACEFUL_DISABLED: 'graceful reload feature is disabled: turn it on with s.setGraceful(true), graceful: true in smooth.yaml, or SMOOTH_GRACEFUL=true',
  SMOOTH_SHUTTING_DOWN: 'server is shutting down',
  SMOOTH_ROLLOUT_IN_PROGRESS: 'a %s is already running',
  SMOOTH_ROLLOUT_FAILED: '%s failed: %s',
  SMOOTH_EXE_NOT_FOUND: 'newExeFilePath %s does not exist',
  SMOOTH_EXE_NOT_ALLOWED: 'newExeFilePath %s is outside the allowed directories (%s)',
  SMOOTH_ADMIN_BAD_REQUEST: 'bad admin request: %s',
  SMOOTH_EXE_NOT_EXECUTABLE: 'newExeFilePath %s is neither an executable file nor a .js/.mjs/.cjs entry',
  SMOOTH_EXE_UNSAFE: 'newExeFilePath %s is not safe to run: %s',
  SMOOTH_ANCHOR_GONE: 'the anchor is gone: %s',
  // Admin access (HTTP answers of the admin guard)
  SMOOTH_ADMIN_FORBIDDEN: 'admin refused a request that is not local (no admin token is set)',
  SMOOTH_ADMIN_HOST: 'admin refused a request whose Host is not one of its names',
  SMOOTH_ADMIN_CROSS_SITE: 'admin refused a cross-site or foreign-origin request',
  SMOOTH_ADMIN_CSRF: 'admin refused an action made with the page cookie without a same-origin POST',
  SMOOTH_ADMIN_UNAUTHORIZED: 'admin token required',
  SMOOTH_ADMIN_TOO_MANY_ATTEMPTS: 'too many failed admin authentications from this client',
  // `smooth start` and existing Fastify apps
  SMOOTH_CLI_USAGE: '%s',
  SMOOTH_ENTRY_NOT_FOUND: 'entry %s does not exist',
  SMOOTH_ENTRY_NO_EXPORT: 'entry %s has nothing to run: export a Fastify plugin (default async (app, opts)), a factory (build, buildApp, or a default export taking no argument) returning a Fastify instance, or start a server with Smooth\'s API',
  SMOOTH_ENTRY_FAILED: 'entry %s failed to start: %s',
  SMOOTH_FACTORY_AS_PLUGIN: '%s returned a Fastify instance: it is a factory, not a plugin (nothing it defines would be served); give it to setAppFactory(), or export it as build/buildApp for smooth start',
  SMOOTH_FACTORY_INVALID: 'the app factory returned %s: it must return a Fastify instance (or a promise of one) that is not ready yet (do not call ready() or listen() in it)',
  SMOOTH_SCALE_INVALID: 'cannot scale to %s: %s',
  SMOOTH_FASTIFY_OPTION_OWNED: 'Fastify option "%s" (in %s) is set by Smooth: %s',
  // Why a rollout was rolled back: one code per reason
  SMOOTH_SUCCESSOR_SPAWN_FAILED: 'cannot start %s: %s',
  SMOOTH_SUCCESSOR_HELLO_TIMEOUT: 'successor %s did not connect to the status channel within %s ms',
  SMOOTH_SUCCESSOR_EXITED: 'successor %s exited before the handover (%s)',
  SMOOTH_SUCCESSOR_START_FAILED: 'successor %s could not start: %s',
  SMOOTH_SUCCESSOR_WORKER_DIED: 'a worker of successor %s died during its start-up (%s)',
  SMOOTH_SUCCESSOR_NOT_READY: 'successor %s: %s did not happen within %s ms',
  SMOOTH_STATUS_CHANNEL_CLOSED: 'successor %s closed the status channel before the handover',
  SMOOTH_STATUS_FRAME_INVALID: 'status channel: a bad frame from the %s (%s)',
  SMOOTH_UPGRADE_ILLEGAL_TRANSITION: 'restart: "%s" cannot happen in state %s (a bug in Smooth: please report it)',
  SMOOTH_WORKER_EXITED_BEFORE_READY: 'new worker %s exited before it was ready (%s)',
  SMOOTH_WORKER_NOT_READY: 'new worker %s was not ready within %s ms (readyTimeout)',
  // The smooth CLI
  SMOOTH_CLI_CONFLICT: '--url and --pid-file together: give one (the admin API, or a signal to the pid in the file)',
  SMOOTH_CLI_EXE_BY_SIGNAL: '--exe cannot travel with a signal: restart onto %s through the admin API (--url)',
  SMOOTH_CLI_NOT_FOLLOWED: 'sent %s to %s, but cannot follow the outcome: %s',
  SMOOTH_CLI_TIMEOUT: 'gave up waiting for the %s after %s s',
  SMOOTH_CLI_SERVER_EXITED: 'the server (pid %s) exited during the %s',
} as const

export type ErrorCode = keyof typeof ErrorCodes

export class SmoothError extends Error {
  readonly code: ErrorCode
  constructor(code: ErrorCode, ...args: Array<string | number>) {
    let i = 0
    super(ErrorCodes[code].replace(/%s/g, () => String(args[i++] ?? '')))
    this.code = code
    this.name = 'SmoothError'
  }
}

export function isSmoothError(err: unknown): err is SmoothError {
  return err instanceof SmoothError
}
