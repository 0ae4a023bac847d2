/**
 * Every error Smooth raises on purpose is a SmoothError with a stable `code`. Tests and callers compare
 * codes, never messages (Fastify `lib/errors.js`, Node `internal/errors`). Codes are never reused.
 *
 * This is the one table of codes: each with its message template and the HTTP status it is answered
 * with when it reaches the admin API or the app's ports (test/errors.test.ts checks that every
 * `SMOOTH_*` literal in src/ that is not an environment name is here, and that README's table matches).
 * Codes that only reach HTTP as the reason of a failed rollout (configuration, start-up, rollback
 * reasons) are server errors there: 500. The CLI's codes never travel over HTTP (500 if one did).
 */
export const ErrorTable = {
  // Configuration
  SMOOTH_CONFIG_UNKNOWN_KEY: { http: 500, message: 'unknown config key %s' },
  SMOOTH_CONFIG_INVALID: { http: 500, message: 'invalid config value: %s' },
  SMOOTH_CONFIG_FILE: { http: 500, message: 'cannot read config file %s' },
  SMOOTH_CERT_UNREADABLE: { http: 500, message: 'cannot read TLS %s file %s' },
  SMOOTH_CERT_INVALID: { http: 500, message: 'invalid TLS certificate or key: %s' },
  SMOOTH_ADDRESS_INVALID: { http: 500, message: 'invalid listen address %s' },
  SMOOTH_NO_ADDRESS: { http: 500, message: 'server %s has no address to listen on' },
  // Start-up
  SMOOTH_LISTEN_FAILED: { http: 500, message: 'cannot listen on %s' },
  SMOOTH_WORKERS_NEVER_READY: { http: 500, message: 'no worker became ready: %s' },
  SMOOTH_ALREADY_STARTED: { http: 500, message: 'server %s is already started' },
  // Serving: a worker over its underPressure limits sheds requests (with Retry-After) until it recovers
  SMOOTH_UNDER_PRESSURE: { http: 503, message: 'under pressure (%s)' },
  // Control and rollouts
  SMOOTH_GRACEFUL_DISABLED: { http: 409, message: 'graceful reload feature is disabled: turn it on with s.setGraceful(true), graceful: true in smooth.yaml, or SMOOTH_GRACEFUL=true' },
  SMOOTH_SHUTTING_DOWN: { http: 409, message: 'server is shutting down' },
  SMOOTH_ROLLOUT_IN_PROGRESS: { http: 409, message: 'a %s is already running' },
  SMOOTH_ROLLOUT_FAILED: { http: 500, message: '%s failed: %s' },
  SMOOTH_EXE_NOT_FOUND: { http: 400, message: 'newExeFilePath %s does not exist' },
  SMOOTH_EXE_NOT_ALLOWED: { http: 403, message: 'newExeFilePath %s is outside the allowed directories (%s)' },
  SMOOTH_ADMIN_BAD_REQUEST: { http: 400, message: 'bad admin request: %s' },
  SMOOTH_EXE_NOT_EXECUTABLE: { http: 400, message: 'newExeFilePath %s is neither an executable file nor a .js/.mjs/.cjs entry' },
  SMOOTH_EXE_UNSAFE: { http: 403, message: 'newExeFilePath %s is not safe to run: %s' },
  SMOOTH_ANCHOR_GONE: { http: 503, message: 'the anchor is gone: %s' },
  // Admin access (HTTP answers of the admin guard; the argument says which rule refused)
  SMOOTH_ADMIN_FORBIDDEN: { http: 403, message: 'admin refused a request that is not local: %s' },
  SMOOTH_ADMIN_HOST: { http: 403, message: 'admin refused a request whose Host is not one of its names: %s' },
  SMOOTH_ADMIN_CROSS_SITE: { http: 403, message: 'admin refused a cross-site or foreign-origin request: %s' },
  SMOOTH_ADMIN_CSRF: { http: 403, message: 'admin refused an action made with the page cookie without a same-origin POST' },
  SMOOTH_ADMIN_UNAUTHORIZED: { http: 401, message: 'admin token required: %s' },
  SMOOTH_ADMIN_TOO_MANY_ATTEMPTS: { http: 429, message: 'too many failed admin authentications from this client' },
  // A start-up warning (logged with this code, never thrown): admin without a token is loopback-only.
  SMOOTH_ADMIN_NO_TOKEN: { http: 500, message: 'admin has no token: it answers only direct loopback requests (from 127.0.0.1 or ::1, with a loopback Host and no Forwarded, X-Forwarded-For, X-Real-IP or Via header); anything relayed by a proxy on this host is refused. Set adminToken to reach it through a proxy or from elsewhere' },
  // `smooth start` and existing Fastify apps
  SMOOTH_CLI_USAGE: { http: 500, message: '%s' },
  SMOOTH_ENTRY_NOT_FOUND: { http: 500, message: 'entry %s does not exist' },
  SMOOTH_ENTRY_NO_EXPORT: { http: 500, message: 'entry %s has nothing to run: export a Fastify plugin (default async (app, opts)), a factory (build, buildApp, or a default export taking no argument) returning a Fastify instance, or start a server with Smooth\'s API' },
  SMOOTH_ENTRY_FAILED: { http: 500, message: 'entry %s failed to start: %s' },
  SMOOTH_FACTORY_AS_PLUGIN: { http: 500, message: '%s returned a Fastify instance: it is a factory, not a plugin (nothing it defines would be served); give it to setAppFactory(), or export it as build/buildApp for smooth start' },
  SMOOTH_FACTORY_INVALID: { http: 500, message: 'the app factory returned %s: it must return a Fastify instance (or a promise of one) that is not ready yet (do not call ready() or listen() in it)' },
  SMOOTH_SCALE_INVALID: { http: 400, message: 'cannot scale to %s: %s' },
  SMOOTH_FASTIFY_OPTION_OWNED: { http: 500, message: 'Fastify option "%s" (in %s) is set by Smooth: %s' },
  // Why a rollout was rolled back: one code per reason
  SMOOTH_SUCCESSOR_SPAWN_FAILED: { http: 500, message: 'cannot start %s: %s' },
  SMOOTH_SUCCESSOR_HELLO_TIMEOUT: { http: 500, message: 'successor %s did not connect to the status channel within %s ms' },
  SMOOTH_SUCCESSOR_EXITED: { http: 500, message: 'successor %s exited before the handover (%s)' },
  SMOOTH_SUCCESSOR_START_FAILED: { http: 500, message: 'successor %s could not start: %s' },
  SMOOTH_SUCCESSOR_WORKER_DIED: { http: 500, message: 'a worker of successor %s died during its start-up (%s)' },
  SMOOTH_SUCCESSOR_NOT_READY: { http: 500, message: 'successor %s: %s did not happen within %s ms' },
  SMOOTH_STATUS_CHANNEL_CLOSED: { http: 500, message: 'successor %s closed the status channel before the handover' },
  SMOOTH_STATUS_FRAME_INVALID: { http: 500, message: 'status channel: a bad frame from the %s (%s)' },
  SMOOTH_UPGRADE_ILLEGAL_TRANSITION: { http: 500, message: 'restart: "%s" cannot happen in state %s (a bug in Smooth: please report it)' },
  SMOOTH_WORKER_EXITED_BEFORE_READY: { http: 500, message: 'new worker %s exited before it was ready (%s)' },
  SMOOTH_WORKER_NOT_READY: { http: 500, message: 'new worker %s was not ready within %s ms (readyTimeout)' },
  SMOOTH_CANARY_ERRORS: { http: 500, message: 'canary rolled back for its error rate: %s' },
  SMOOTH_CANARY_LATENCY: { http: 500, message: 'canary rolled back for its latency: %s' },
  SMOOTH_CANARY_CHECK: { http: 500, message: 'canary rolled back by its check: %s' },
  SMOOTH_CANARY_CRASHED: { http: 500, message: 'canary rolled back: %s' },
  SMOOTH_CANARY_INCONCLUSIVE: { http: 500, message: 'canary rolled back, too little traffic to judge it: %s' },
  // The smooth CLI
  SMOOTH_CLI_CONFLICT: { http: 500, message: '--url and --pid-file together: give one (the admin API, or a signal to the pid in the file)' },
  SMOOTH_CLI_EXE_BY_SIGNAL: { http: 500, message: '--exe cannot travel with a signal: restart onto %s through the admin API (--url)' },
  SMOOTH_CLI_CANARY_BY_SIGNAL: { http: 500, message: '--canary cannot travel with a signal: use the admin API (--url), or canary.enabled in the config for every rollout' },
  SMOOTH_CLI_NOT_FOLLOWED: { http: 500, message: 'sent %s to %s, but cannot follow the outcome: %s' },
  SMOOTH_CLI_TIMEOUT: { http: 500, message: 'gave up waiting for the %s after %s s' },
  SMOOTH_CLI_SERVER_EXITED: { http: 500, message: 'the server (pid %s) exited during the %s' },
} as const satisfies Record<string, { http: number; message: string }>

export type ErrorCode = keyof typeof ErrorTable

/** Each code's message template (the table's messages, kept under the name the package exported first). */
export const ErrorCodes = Object.fromEntries(Object.entries(ErrorTable).map(([code, e]) => [code, e.message])) as { readonly [C in ErrorCode]: (typeof ErrorTable)[C]['message'] }

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ErrorTable, code)
}

/** The HTTP status an error is answered with: its code's, or 500 for anything without one of ours. */
export function httpStatus(err: unknown): number {
  const code = (err as { code?: unknown } | undefined)?.code
  return isErrorCode(code) ? ErrorTable[code].http : 500
}

/** An error as the admin API and the app's ports answer it: `{ error, code }` with its code's status. */
export function httpError(err: unknown): { status: number; body: { error: string; code: string } } {
  const e = err as { code?: unknown; message?: unknown }
  return { status: httpStatus(err), body: { error: String(e?.message ?? err), code: typeof e?.code === 'string' ? e.code : 'ERROR' } }
}

export class SmoothError extends Error {
  readonly code: ErrorCode
  constructor(code: ErrorCode, ...args: Array<string | number>) {
    let i = 0
    super(ErrorTable[code].message.replace(/%s/g, () => String(args[i++] ?? '')))
    this.code = code
    this.name = 'SmoothError'
  }
}

export function isSmoothError(err: unknown): err is SmoothError {
  return err instanceof SmoothError
}
