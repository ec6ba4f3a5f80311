import type { ConsoleChartSpec } from './console/chart-spec.js'
import type { Plugin } from 'graphql-yoga'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import type { GraphQLSchema } from 'graphql'
import { handleProtocols } from 'graphql-ws'
import { WebSocketServer, type WebSocket } from 'ws'
import type { Config } from '../config/index.js'
import { DEFAULT_MESSAGES, ErrorCode } from '../errors.js'
import type { Logger } from '../observability/logger.js'
import type { Metrics } from '../observability/metrics.js'
import type { AuthContext, Authenticator } from './auth.js'
import { createClientAddress } from './client-address.js'
import {
  createEventStreamLimit,
  declaredTooLarge,
  hasBody,
  isEventStreamRequest,
  readBody,
  refuseBody,
  refuseEventStream,
} from './http-limits.js'
import { createOperationalRoutes, sendJSON, type Readiness } from './http-routes.js'
import { createStaticRoutes } from './static-routes.js'
import { graphiqlStartLocation } from './graphiql.js'
import { createKeyedLimit } from './limits.js'
import { codeOf } from './masking.js'
import { isOriginAllowed } from './origin.js'
import { useWebSocketAdapter } from './ws-adapter.js'
import { createProtocolServer } from './ws-protocol.js'
import { createGatewayYoga, GRAPHQL_PATH } from './yoga.js'

export type ServerConfig = Pick<
  Config,
  | 'host'
  | 'port'
  | 'allowedOrigins'
  | 'maxSubscriptionsPerSocket'
  | 'maxPayloadBytes'
  | 'connectionInitTimeoutMs'
  | 'maxConnectionsPerIp'
  | 'maxConnectionsPerTenant'
  | 'subscribeRatePerSecond'
  | 'subscribeBurst'
  | 'maxBodyBytes'
  | 'maxEventStreamsPerIp'
  | 'maxEventStreamsPerTenant'
  | 'trustedProxies'
  | 'production'
  | 'console'
>

export interface GatewayServerOptions {
  config: ServerConfig
  schema: GraphQLSchema
  authenticator: Authenticator
  /** Builds what resolvers see, per HTTP request / per WebSocket operation. Returned object is merged with `{ auth }`. */
  createContext: (auth: AuthContext) => Record<string, unknown>
  /** `/readyz`: 200 when ready, 503 otherwise, JSON body `{ ready, checks }`. A throw counts as not ready. */
  readiness: Readiness
  metrics: Metrics
  logger: Logger
  /** Headers GraphiQL pre-fills (dev mode puts a token there); GraphiQL is off in production. */
  graphiqlHeaders?: Record<string, string>
  /** Extra envelop plugins from the application (run on every transport). */
  plugins?: Plugin[]
  /** Admin token the console's token box starts with (dev mode only; never set it in production). */
  devToken?: string
  /**
   * A subscription on the configured models that GraphiQL and the console open on; default: the README's
   * `orderChanged` subscription of the demo.
   */
  exampleSubscription?: string
  /** The console's live chart. */
  consoleChart?: ConsoleChartSpec
  /** WebSocket ping interval. Default 15 000 ms. */
  keepAliveMs?: number
  /**
   * The streams' slow-consumer timeout: a WebSocket peer that stops answering pings is judged dead only after it
   * (plus one ping interval), so its stalled subscriptions end with SLOW_CONSUMER first. Default 0: a peer that
   * leaves a ping unanswered by the next is dead.
   */
  slowConsumerTimeoutMs?: number
}

export interface GatewayServer {
  /** Starts listening; resolves with the URL `http://HOST:PORT/graphql` (the actual port when `port` is 0). */
  listen(): Promise<{ url: string; port: number }>
  /** Graceful: stop accepting, end every subscription, close sockets with 1001, close HTTP. Idempotent. */
  stop(): Promise<void>
  /** Open WebSocket connections; running subscriptions over WebSocket and SSE. */
  stats(): { connections: number; subscriptions: number }
}

const STREAM_DRAIN_MS = 2000

const UNAUTHORIZED_BODY = { errors: [{ message: 'Unauthorized', extensions: { code: ErrorCode.UNAUTHENTICATED } }] }

/**
 * One `node:http` server: `/graphql` (GraphQL over HTTP, SSE, GraphiQL, graphql-ws WebSocket upgrades),
 * `/healthz`, `/readyz`, `/metrics`, the console (`/console`) and, in dev mode, the example web client
 * (`/examples/web-client/`); everything else is 404.
 */
export function createGatewayServer(options: GatewayServerOptions): GatewayServer {
  const { config, authenticator, metrics, logger } = options
  const countErrors = (errors: ReadonlyArray<{ extensions?: Record<string, unknown> | null }>) =>
    errors.forEach((e) => metrics.errors.inc({ code: codeOf(e) }))

  const { yoga, streams } = createGatewayYoga({
    schema: options.schema,
    config,
    createContext: options.createContext,
    logger,
    tracker: { onErrors: countErrors },
    graphiqlHeaders: options.graphiqlHeaders,
    plugins: options.plugins,
  })
  const protocol = createProtocolServer({
    yoga,
    authenticator,
    maxSubscriptionsPerSocket: config.maxSubscriptionsPerSocket,
    connectionInitTimeoutMs: config.connectionInitTimeoutMs,
    maxConnectionsPerTenant: config.maxConnectionsPerTenant,
    subscribeRate: { ratePerSecond: config.subscribeRatePerSecond, burst: config.subscribeBurst },
    metrics,
    logger,
  })
  // One message per socket per event-loop turn: a socket that floods frames cannot hold the loop for a whole
  // TCP read's worth of messages, and waits (TCP backpressure) while its messages are handled.
  const wss = new WebSocketServer({ noServer: true, maxPayload: config.maxPayloadBytes, handleProtocols, allowSynchronousEvents: false })
  const sockets = useWebSocketAdapter(wss, protocol.server, {
    keepAliveMs: options.keepAliveMs,
    slowConsumerTimeoutMs: options.slowConsumerTimeoutMs,
    onUnresponsive: (socket) => protocol.endSubscriptionsOf(socket),
    logger,
    onOpen: () => metrics.wsConnections.inc(),
    onClose: () => metrics.wsConnections.dec(),
  })
  const clientAddress = createClientAddress(config.trustedProxies)
  const socketsPerAddress = createKeyedLimit(config.maxConnectionsPerIp)
  const eventStreams = createEventStreamLimit({ perAddress: config.maxEventStreamsPerIp, perTenant: config.maxEventStreamsPerTenant })
  const routes = createOperationalRoutes({ readiness: options.readiness, metrics, logger })
  const pages = createStaticRoutes({ console: config.console, examples: !config.production, devToken: options.devToken, exampleSubscription: options.exampleSubscription, chart: options.consoleChart })

  // GraphiQL's page itself (a browser navigation) needs no token; yoga renders it for exactly these requests.
  const isGraphiQLPage = (req: IncomingMessage) =>
    !config.production && req.method === 'GET' && (req.headers.accept ?? '').includes('text/html')

  async function handleGraphQL(req: IncomingMessage, res: ServerResponse) {
    if (isGraphiQLPage(req)) {
      const start = graphiqlStartLocation(GRAPHQL_PATH, req.url, options.exampleSubscription)
      if (start) return void res.writeHead(302, { location: start, 'cache-control': 'no-store' }).end()
    }
    if (req.method === 'OPTIONS' || isGraphiQLPage(req)) {
      await yoga.handle(req, res, {})
      return
    }
    if (declaredTooLarge(req, config.maxBodyBytes)) return refuseBody(res, config.maxBodyBytes)
    const auth = await authenticator.authenticate(req.headers.authorization).catch(() => undefined)
    if (!auth) {
      metrics.errors.inc({ code: ErrorCode.UNAUTHENTICATED })
      sendJSON(res, 401, UNAUTHORIZED_BODY, { 'www-authenticate': 'Bearer' })
      return
    }
    if (isEventStreamRequest(req)) {
      const release = eventStreams.acquire(clientAddress(req), auth.tenant)
      if (!release) {
        logger.debug({ tenant: auth.tenant }, 'event stream refused: address or tenant limit')
        metrics.errors.inc({ code: ErrorCode.SUBSCRIPTION_LIMIT })
        return refuseEventStream(res)
      }
      res.once('close', release)
    }
    if (hasBody(req)) {
      const read = await readBody(req, config.maxBodyBytes)
      if (read.kind === 'too-large') return refuseBody(res, config.maxBodyBytes)
      if (read.kind === 'aborted') return void res.destroy()
      // yoga reads a body already taken off the stream from `req.body`, as behind a body-parsing framework.
      if (read.body.length > 0) (req as IncomingMessage & { body?: Buffer }).body = read.body
    }
    await yoga.handle(req, res, { auth })
  }

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const path = pathOf(req)
    if (await routes.handle(path, req, res)) return
    if (await pages.handle(path, req, res)) return
    if (path === GRAPHQL_PATH) return handleGraphQL(req, res)
    sendJSON(res, 404, { error: 'Not found' })
  }

  const http = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      logger.error({ err }, 'request handling failed')
      if (res.headersSent) return res.destroy()
      sendJSON(res, 500, { errors: [{ message: DEFAULT_MESSAGES.INTERNAL_SERVER_ERROR, extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR } }] })
    })
  })

  let stopping = false
  // Defined out here: a closure made inside the upgrade handler would share its context, and the socket's error
  // listener would keep that context, and with it the upgrade request, alive for as long as the connection lasts.
  const upgraded = (ws: WebSocket, req: IncomingMessage) => void wss.emit('connection', ws, req)
  http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', (err) => logger.debug({ err }, 'upgrade socket error'))
    if (pathOf(req) !== GRAPHQL_PATH) return refuseUpgrade(socket, 404, 'Not Found')
    if (stopping) return refuseUpgrade(socket, 503, 'Service Unavailable')
    if (!isOriginAllowed(req, config.allowedOrigins)) {
      logger.info({ origin: req.headers.origin }, 'websocket origin refused')
      return refuseUpgrade(socket, 403, 'Forbidden')
    }
    const address = clientAddress(req)
    const release = socketsPerAddress.acquire(address)
    if (!release) {
      logger.debug({ address }, 'websocket refused: address connection limit')
      return refuseUpgrade(socket, 429, 'Too Many Requests')
    }
    socket.once('close', release)
    wss.handleUpgrade(req, socket, head, upgraded)
  })

  let stopped: Promise<void> | undefined
  return {
    async listen() {
      await new Promise<void>((resolve, reject) => {
        http.once('error', reject)
        http.listen(config.port, config.host, () => {
          http.off('error', reject)
          resolve()
        })
      })
      const address = http.address()
      const port = typeof address === 'object' && address ? address.port : config.port
      const host = config.host.includes(':') ? `[${config.host}]` : config.host
      const url = `http://${host}:${port}${GRAPHQL_PATH}`
      logger.info({ url }, 'listening')
      return { url, port }
    },

    stop() {
      stopped ??= (async () => {
        stopping = true
        const closed = new Promise<void>((resolve) => http.close(() => resolve()))
        await sockets.dispose()
        protocol.stop()
        // Open event streams and keep-alive connections: ending them cancels their iterators.
        http.closeAllConnections()
        await Promise.race([streams.drained(), sleep(STREAM_DRAIN_MS, undefined, { ref: false })])
        await closed
        await yoga.dispose()
      })()
      return stopped
    },

    stats: () => ({ connections: sockets.connections(), subscriptions: protocol.subscriptions() + streams.active() }),
  }
}

function pathOf(req: IncomingMessage): string {
  const raw = req.url ?? '/'
  const end = raw.search(/[?#]/)
  return end === -1 ? raw : raw.slice(0, end)
}

/** A plain HTTP answer instead of the 101, as ws itself refuses handshakes. */
function refuseUpgrade(socket: Duplex, status: number, text: string) {
  if (!socket.writable) return socket.destroy()
  socket.once('finish', () => socket.destroy())
  socket.end(
    `HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`,
  )
}
