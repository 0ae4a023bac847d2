import { Socket } from 'node:net'
import { createServer as createTlsServer, type TLSSocket } from 'node:tls'
import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import { createLogger } from '../log.js'
import { env, listenerTable } from '../env.js'
import { resolveConfig, loadTls, type ResolvedConfig } from '../config/resolve.js'
import type { MetricsJson } from '../metrics/primary-metrics.js'
import type { ControlCommand, ControlReplyMessage, FromWorker, ToWorker, WorkerStats } from '../protocol.js'
import { isSmoothMessage, send as sendTagged, ReplyRouter, WorkerForwardedSignals, ScaleSignals, type Unsent } from '../wire.js'
import type { RolloutOptions, RuntimeHooks, Server } from '../server.js'
import { buildApp } from './app.js'
import { ConnectionTracker } from './connections.js'
import { FramedSocket } from './h2-frames.js'
import { WorkerMetrics } from '../metrics/worker-metrics.js'
import { carriedOnly } from '../metrics/carried.js'
import { closeWebSockets } from './long-lived.js'
import { watchPressure, whenHealthy } from './pressure.js'
import { FdExhaustion, PressureReport, fdExhaustionCode } from './fd-exhaustion.js'
import { WorkerHandOff } from './handoff-worker.js'
import type { TcpHandle } from './handoff.js'

/**
 * How long a keep-alive connection idle in a drain may still deliver a request already sent (a client
 * on a loaded host can take hundreds of milliseconds between reading a response and sending the next).
 */
const IDLE_GRACE_MS = 500
const CONTROL_TIMEOUT_MS = 10_000

type Acceptor = (socket: Socket) => void

/** libuv's TCP handle as received over IPC (the same shape net.Server keeps in `_handle`). */
interface ClientHandle { setNoDelay(on: boolean): number }
interface ListeningHandle {
  onconnection: ((status: number, client?: ClientHandle) => void) | null
  listen(backlog: number): number
  close(): void
}

/**
 * The worker role: builds the servers' Fastify apps, says `ready`, then serves the connections the
 * primary hands over. A signal sent to a worker (GoFrame users read the pid from `/pid` and signal
 * it) is forwarded to the primary, as if sent there: only the primary decides when a worker drains,
 * and Ctrl-C, which reaches the whole process group, still means one shutdown.
 */
export function createWorkerRuntime(): RuntimeHooks {
  const log: Logger = createLogger('worker')
  for (const signal of WorkerForwardedSignals) {
    process.on(signal, () => {
      if (!process.connected) return log.warn({ signal }, 'signal ignored: the primary is gone and this worker is draining')
      log.info({ signal }, 'signal forwarded to the primary')
      send({ act: 'signal', signal })
    })
  }
  for (const sig of Object.keys(ScaleSignals) as Array<keyof typeof ScaleSignals>) {
    process.on(sig, () => log.debug({ signal: sig }, 'signal ignored by worker: the primary decides'))
  }
  const expected = new Set(env.servers())
  const started = new Map<string, Server>()
  const acceptors = new Map<number, Acceptor>()
  const trackers: ConnectionTracker[] = []
  const apps: FastifyInstance[] = []
  const received = new Map<number, ListeningHandle>()
  const listening: ListeningHandle[] = []
  const controlReplies = new ReplyRouter<ControlReplyMessage>()
  let state: 'starting' | 'ready' | 'draining' = 'starting'
  let booting = false
  let drainTimeoutMs = 30_000
  let metrics: WorkerMetrics | undefined
  /** Requests answered, for maxWorkerRequests (counted only when it is set: nothing on the hot path otherwise). */
  let requests = 0
  const serverOf = new Map<number, string>()
  const trackerServer = new Map<ConnectionTracker, string>()
  const servingWaiters: Array<() => void> = []
  const pressure = new PressureReport((under) => send({ act: 'pressure', under }))
  let fds: FdExhaustion | undefined

  const send = (msg: Unsent<FromWorker>, cb?: () => void): number => sendTagged<FromWorker>(process, msg, undefined, cb ? () => cb() : undefined)
  const handOff = new WorkerHandOff(() => metrics)

  const adminContext = {
    control(command: ControlCommand, args: Record<string, string | undefined>) {
      return new Promise<{ status: number; body: unknown }>((resolve) => {
        const forget = controlReplies.expect(send({ act: 'control', command, args }), (reply) => {
          clearTimeout(timer)
          resolve({ status: reply.status, body: reply.body })
        })
        const timer = setTimeout(() => {
          forget()
          resolve({ status: 504, body: { error: `the primary did not answer "${command}" in time` } })
        }, CONTROL_TIMEOUT_MS)
      })
    },
  }

  async function boot(): Promise<void> {
    let config: ResolvedConfig
    try {
      config = resolveConfig([...started.values()].map((s) => ({ name: s.name, settings: s.settings })))
      log.level = config.process.logLevel
      drainTimeoutMs = config.process.gracefulShutdownTimeoutMs
      const table = listenerTable()
      if (config.process.metrics) {
        // `generation.id`: unique across restarts, so two generations' workers never share a series.
        metrics = new WorkerMetrics(`${env.generation()}.${env.workerId()}`, () => trackers.reduce((n, t) => n + t.stats().inflight, 0),
          () => apps[0]?.memoryUsage(), { nodeMetrics: config.process.nodeMetrics })
      }
      // Before under-pressure starts sampling: a worker out of descriptors must not die of it.
      fds = new FdExhaustion(log, metrics?.fdExhausted, (exhausted) => { if (state === 'ready') pressure.set('fds', exhausted) })
      fds.guardMemoryUsage()
      for (const sc of config.servers) {
        const server = started.get(sc.name)!
        const app = await buildApp(server, sc, config.process, log, adminContext, metrics)
        apps.push(app)
        const http = app.server
        // Node starts its request/headers timeout checks when a server emits 'listening'. Our servers
        // never listen (the primary owns the sockets), so start those checks explicitly.
        http.emit('listening')
        const refused = metrics?.h2Refused.labels({ server: sc.name })
        const tracker = new ConnectionTracker(http, IDLE_GRACE_MS, sc.http2, () => refused?.inc(), (reason, n) => handOff.closed(reason, n))
        trackerServer.set(tracker, sc.name)
        trackers.push(tracker)
        const plain: Acceptor = (socket) => http.emit('connection', socket)
        if (config.process.handOffConnections && !sc.http2) handOff.register(sc.name, http, plain)
        let secure: Acceptor | undefined
        if (sc.tls) {
          const tls = createTlsServer({ ...loadTls(sc.tls), ALPNProtocols: sc.http2 ? ['h2'] : ['http/1.1'] })
          // HTTP/2 goes through a frame tap, for the graceful GOAWAY Node cannot send (h2-frames.ts).
          tls.on('secureConnection', (s: TLSSocket) => http.emit('connection', sc.http2 ? new FramedSocket(s) : s))
          tls.on('tlsClientError', (err) => log.debug({ err: err.message }, 'TLS handshake failed'))
          secure = (socket) => {
            const done = tracker.handshakeStarted()
            socket.once('close', done)
            socket.once('secure', done)
            tls.emit('connection', socket)
          }
        }
        for (const ref of table.filter((l) => l.server === sc.name)) {
          acceptors.set(ref.index, ref.protocol === 'https' ? secure! : plain)
          serverOf.set(ref.index, ref.server)
        }
      }
    } catch (err) {
      log.error({ err }, 'worker failed to start')
      process.exit(1)
    }
    if (config.process.maxWorkerRequests > 0) for (const app of apps) app.server.on('request', () => { requests++ })
    const limited = config.servers.filter((sc) => Object.keys(sc.underPressure).some((k) => k.startsWith('max')))
    if (limited.length > 0) {
      // Not ready before under-pressure has had a sample and says healthy; then report changes.
      // under-pressure reads 0 (or nothing) as its default, 1 s.
      const sampleMs = Math.max(...limited.map((sc) => sc.underPressure.sampleInterval || 1000))
      const maxUtilization = Math.min(...limited.map((sc) => sc.underPressure.maxEventLoopUtilization ?? Infinity))
      await whenHealthy(apps, sampleMs, config.process.readyTimeoutMs / 2, maxUtilization)
      watchPressure(apps, Math.max(10, Math.round(sampleMs / 2)), (under) => pressure.set('limits', under))
    }
    state = 'ready'
    send({ act: 'ready' })
    for (const w of servingWaiters.splice(0)) w()
  }

  async function drain(timeoutMs: number, handingOff = false): Promise<void> {
    if (state === 'draining') return
    const deadline = Date.now() + timeoutMs
    state = 'draining'
    // A rollout's drain passes idle keep-alive connections to ready workers; a shutdown's closes them.
    if (handingOff) handOff.begin(timeoutMs)
    stopAccepting()
    for (const h of received.values()) h.close()
    received.clear()
    // WebSockets hear 1012 (Service Restart) now, not a reset at the deadline.
    const webSockets = closeWebSockets(apps)
    const forcedCounts = await Promise.all(trackers.map((t) => t.drain(timeoutMs, webSockets, handOff.mover(trackerServer.get(t)!))))
    // Our copies of the connections handed over close once their receivers have them.
    await handOff.settled()
    // One that came back after the trackers were done (no receiver got it: the primary died with it on
    // the way) is served here again: it is waited for like the others, within the same deadline.
    forcedCounts.push(...await Promise.all(trackers.map((t) => t.drain(Math.max(0, deadline - Date.now())))))
    const forced = forcedCounts.reduce((a, b) => a + b, 0)
    if (forced > 0) log.warn({ forced }, 'drain timed out: connections forced closed')
    // onClose hooks of the user's plugins run now that no request is in flight.
    await Promise.race([
      Promise.allSettled(apps.map((a) => a.close())),
      new Promise((r) => setTimeout(r, 5_000).unref()),
    ])
    // The final counts go with it, so they outlive this process (see metrics/ledger.ts).
    const final = metrics ? carriedOnly(await metrics.json()) : undefined
    send({ act: 'drained', forced, metrics: final, ...handOff.counts }, () => process.exit(0))
  }

  /** Accepts from this worker's duplicate of a listening socket (see primary/listeners.ts). */
  function startAccepting(listener: number, handle: ListeningHandle): void {
    const accept = acceptors.get(listener)
    if (!accept) {
      handle.close()
      return
    }
    const accepted = metrics?.accepted.labels({ server: serverOf.get(listener) ?? '' })
    handle.onconnection = (status, client) => {
      if (status < 0 || !client) {
        const exhausted = fdExhaustionCode(status)
        if (exhausted) fds?.hit('accept', exhausted)
        else log.warn({ status, listener }, 'accept failed')
        return
      }
      // As net.Server does for an http.Server (noDelay is on by default there): no Nagle delay.
      client.setNoDelay(true)
      accepted?.inc()
      // `handle` is an internal option: net.Server itself wraps accepted handles this way.
      accept(new Socket({ handle: client, readable: true, writable: true } as ConstructorParameters<typeof Socket>[0]))
    }
    const err = handle.listen(511)
    if (err) log.error({ listener, errno: err }, 'cannot accept on the inherited listener')
    listening.push(handle)
  }

  function stats(): WorkerStats {
    const mem = process.memoryUsage()
    const t = trackers.map((x) => x.stats())
    return {
      connections: t.reduce((a, x) => a + x.connections, 0),
      inflight: t.reduce((a, x) => a + x.inflight, 0),
      rss: mem.rss,
      heapUsed: mem.heapUsed,
    }
  }

  function stopAccepting(): void {
    for (const h of listening.splice(0)) h.close()
  }

  // node:cluster makes a worker exit at once when it loses its primary (kill -9 of the primary, say),
  // dropping the requests it is serving. Finish them instead: stop accepting, drain, then exit.
  process.removeAllListeners('disconnect')
  process.once('disconnect', () => {
    log.warn('lost the primary: draining')
    // No answer about a connection handed over will come now.
    handOff.abandon()
    void drain(drainTimeoutMs)
  })

  process.on('message', (msg: unknown, handle: unknown) => {
    if (!isSmoothMessage<ToWorker>(msg)) return
    switch (msg.act) {
      case 'listen':
        received.set(msg.listener, handle as ListeningHandle)
        return
      case 'accept':
        if (state !== 'ready') return
        for (const [listener, h] of received) startAccepting(listener, h)
        received.clear()
        send({ act: 'accepting' })
        return
      case 'pause':
        stopAccepting()
        return
      case 'drain':
        void drain(msg.timeoutMs, msg.handOff === true)
        return
      case 'adopt':
        handOff.adopt(msg.id, msg.server, handle as TcpHandle | undefined, state === 'ready')
        return
      case 'handedOff':
        handOff.answered(msg.id, msg.outcome)
        return
      case 'metrics':
        void (metrics ? metrics.json() : Promise.resolve([]))
          .then((json) => send({ act: 'metricsReply', ack: msg.seq!, metrics: json as MetricsJson }))
        return
      case 'stats':
        send({ act: 'statsReply', ack: msg.seq!, stats: stats() })
        return
      case 'ping':
        send({ act: 'pong', stats: stats(), requests })
        return
      case 'controlReply':
        controlReplies.route(msg)
        return
    }
  })

  return {
    start(server: Server): Promise<void> {
      started.set(server.name, server)
      const allThere = [...expected].every((n) => started.has(n))
      if (allThere && !booting) {
        booting = true
        // Let every start() of this tick register first, exactly as the primary does.
        setImmediate(() => void boot())
      }
      return new Promise((resolve) => {
        if (state !== 'starting') resolve()
        else servingWaiters.push(resolve)
      })
    },
    // In a worker these ask the primary, which owns the process tree.
    async shutdown() {
      await adminContext.control('shutdown', {})
    },
    // A check function cannot travel to the primary: settings travel as JSON (functions dropped).
    reload: (opts) => adminContext.control('reload', canaryArg(opts)),
    restart: (newExeFilePath?: string, opts?) => adminContext.control('restart', { newExeFilePath, ...canaryArg(opts) }),
    wait: () => new Promise<void>(() => {}),
  }
}

function canaryArg(opts: RolloutOptions | undefined): { canary?: string } {
  const c = opts?.canary
  return c === undefined ? {} : { canary: typeof c === 'boolean' ? (c ? '1' : '0') : JSON.stringify(c) }
}
