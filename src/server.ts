import type { FastifyInstance, FastifyPluginCallback, FastifyPluginAsync, RouteOptions, RouteHandlerMethod, onRequestHookHandler } from 'fastify'
import type { CanaryConfig, ServerSettings } from './config/keys.js'
import { SmoothError } from './errors.js'
import { checkFastifyOptions } from './config/fastify-options.js'
import { refuseFactory, type AppFactory } from './worker/factory.js'

/** A step that configures the server's Fastify instance in each worker (recorded in the primary). */
export type SetupStep = (app: FastifyInstance) => unknown

export interface RuntimeHooks {
  start(server: Server): Promise<void>
  shutdown(): Promise<void>
  reload(opts?: RolloutOptions): Promise<unknown>
  restart(newExeFilePath?: string, opts?: RolloutOptions): Promise<unknown>
  wait(): Promise<void>
}

/**
 * `canary`: true runs the rollout as a canary with the configured `canary` settings, an object with
 * settings over them (a `check` function only where the rollout is judged: in the primary for a reload),
 * false runs none even when `canary.enabled` is on.
 */
export interface RolloutOptions { canary?: boolean | CanaryConfig }

let runtime: RuntimeHooks | undefined
/** index.ts installs the runtime of this process's role (primary or worker). */
export function installRuntime(hooks: RuntimeHooks): void {
  runtime = hooks
}
function rt(): RuntimeHooks {
  if (!runtime) throw new Error('smooth: import from the package entry (src/index.ts)')
  return runtime
}

/**
 * One named server, GoFrame style. The same entry script runs in the primary and in every worker: in
 * the primary the calls below only record settings and routes; in a worker `start()` builds a Fastify
 * instance from them and serves the connections the primary hands over.
 */
export class Server {
  readonly name: string
  /** Settings made in code; they win over the environment and the config file. */
  readonly settings: ServerSettings = {}
  readonly steps: SetupStep[] = []
  adminEnabled = false
  adminAuth: onRequestHookHandler | undefined
  /** When set, each worker serves the instance this returns instead of building its own. */
  appFactory: AppFactory | undefined
  private started = false

  constructor(name: string) {
    this.name = name
  }

  /** Binds a handler to every HTTP method of a path (GoFrame's BindHandler). */
  bindHandler(path: string, handler: RouteHandlerMethod): this {
    this.steps.push((app) => app.all(path, handler))
    return this
  }

  route(options: RouteOptions): this {
    this.steps.push((app) => app.route(options))
    return this
  }

  register<Options extends Record<string, unknown>>(
    plugin: FastifyPluginCallback<Options> | FastifyPluginAsync<Options>,
    options?: Options,
  ): this {
    // A factory given here would define its routes on an instance nobody serves: refuse it at start.
    this.steps.push((app) => app.register(refuseFactory(plugin as FastifyPluginAsync<Options>), options as Options))
    return this
  }

  /**
   * Fastify constructor options (trustProxy, bodyLimit, genReqId, …), merged over the config file's
   * `fastify:` section. Options Smooth owns (logger, https, http2, serverFactory, …) throw
   * SMOOTH_FASTIFY_OPTION_OWNED naming the Smooth way.
   */
  setFastifyOptions(options: Record<string, unknown>): this {
    checkFastifyOptions(options, 'setFastifyOptions')
    this.settings.fastify = { ...this.settings.fastify, ...options }
    return this
  }

  /**
   * Serves the Fastify instance `factory` returns (Fastify's testing-guide shape: build() or buildApp()),
   * in each worker. Smooth adds its parts (under-pressure, metrics, admin, the steps above) to it.
   */
  setAppFactory(factory: AppFactory): this {
    this.appFactory = factory
    return this
  }

  /** Escape hatch: any Fastify call, run on the server's instance in each worker. */
  setup(step: SetupStep): this {
    this.steps.push(step)
    return this
  }

  setGraceful(enabled: boolean): this {
    this.settings.graceful = enabled
    return this
  }

  /**
   * The admin page and API under `pattern`. `auth` is your own check (any Fastify onRequest hook, e.g.
   * @fastify/basic-auth's), run before Smooth's token guard.
   */
  enableAdmin(pattern = '/debug/admin', options: { auth?: onRequestHookHandler } = {}): this {
    this.adminEnabled = true
    this.settings.adminPattern = pattern
    this.adminAuth = options.auth
    return this
  }

  enableHTTPS(certPath: string, keyPath: string): this {
    this.settings.httpsCertPath = certPath
    this.settings.httpsKeyPath = keyPath
    return this
  }

  /** Listens on these ports on every interface (replaces earlier addresses). */
  setPort(...ports: number[]): this {
    this.settings.address = ports.map((p) => `:${p}`)
    return this
  }

  /** ":8199", "127.0.0.1:8199" or several: "127.0.0.1:8100,:8200". */
  setAddress(address: string | string[]): this {
    this.settings.address = address
    return this
  }

  setHTTPSPort(...ports: number[]): this {
    this.settings.httpsAddr = ports.map((p) => `:${p}`)
    return this
  }

  setHTTPSAddr(address: string | string[]): this {
    this.settings.httpsAddr = address
    return this
  }

  setWorkers(count: number): this {
    this.settings.workers = count
    return this
  }

  /** Any config keys at once (the same keys as the config file). */
  setConfig(settings: ServerSettings): this {
    Object.assign(this.settings, settings)
    return this
  }

  /** Starts serving. Resolves when this server serves (primary: workers ready; worker: app ready). */
  start(): Promise<void> {
    if (this.started) return Promise.reject(new SmoothError('SMOOTH_ALREADY_STARTED', this.name))
    this.started = true
    announceStart()
    return rt().start(this)
  }

  /** start() and then wait() until the process shuts down. */
  async run(): Promise<void> {
    await this.start()
    await rt().wait()
  }

  /** Graceful shutdown of the whole process (every server: they share the workers). */
  shutdown(): Promise<void> {
    return rt().shutdown()
  }

  /** Rolling reload of the workers (pid-stable). */
  reload(opts?: RolloutOptions): Promise<unknown> {
    return rt().reload(opts)
  }

  /** Smooth restart: a new primary generation, optionally from another entry or executable. */
  restart(newExeFilePath?: string, opts?: RolloutOptions): Promise<unknown> {
    return rt().restart(newExeFilePath, opts)
  }
}

const servers = new Map<string, Server>()

let announceStart!: () => void
/** Settles when a server of this process calls start(): `smooth start` tells a script from a module. */
export const firstStart = new Promise<void>((resolve) => (announceStart = resolve))

/** The named singleton: server('s1') returns the same object anywhere in the program. */
export function server(name = 'default'): Server {
  let s = servers.get(name)
  if (!s) {
    s = new Server(name)
    servers.set(name, s)
  }
  return s
}

/** Waits until every server has shut down. */
export function wait(): Promise<void> {
  return rt().wait()
}
