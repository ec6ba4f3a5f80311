import { MongoClient, type Document } from 'mongodb'
import { checkSecrets, type Config } from './config/index.js'
import { startEmbeddedMongo, type EmbeddedMongo } from './embedded/index.js'
import { createRedisMode } from './cluster/redis-mode.js'
import { createInProcessMode } from './fanout/modes.js'
import { resolveConfig, demoConfig, type ModelRegistry } from './models/index.js'
import { ensureCollections } from './mongo/collections.js'
import { createCursorCodec } from './mongo/cursor-codec.js'
import { DEMO_TENANTS, seedDemo, startDemoTraffic } from './mongo/demo.js'
import type { Position } from './mongo/position.js'
import { createLogger, type Logger } from './observability/logger.js'
import { createMetrics } from './observability/metrics.js'
import { exampleSubscription } from './schema/example.js'
import { consoleChartOf } from './server/console/chart-spec.js'
import { buildSchema } from './schema/index.js'
import { useSharedSubscriptionExecution } from './schema/shared-execution.js'
import type { Plugin } from 'graphql-yoga'
import { createAuthenticator } from './server/auth.js'
import { createGatewayServer } from './server/index.js'
import { createGatewayServices } from './services.js'
import { createAggregateRegistry } from './aggregates/registry.js'
import { createStreamRegistry } from './streams/registry.js'

export interface StartedApp {
  readonly url: string
  /** Lines for a person at the terminal: where things are, and dev tokens in embedded mode. */
  readonly banner: string[]
}

export interface App {
  start(): Promise<StartedApp>
  stop(): Promise<void>
  readonly logger: Logger
}

const redact = (uri: string) => uri.replace(/\/\/[^@/]*@/, '//***@')

export interface AppOptions {
  /** The configured models; default: the built-in demo. */
  readonly models?: ModelRegistry
}

export function createApp(config: Config, options: AppOptions = {}): App {
  const logger = createLogger({ level: config.logLevel, nodeId: config.nodeId })
  const models = options.models ?? resolveConfig(demoConfig)
  // Demo data only for the built-in demo models: a team's own collections are never written to.
  const demo = config.demo && options.models === undefined
  checkSecrets(config, models.auth?.jwksUrl !== undefined)
  const schema = buildSchema(models)
  const metrics = createMetrics()
  const stops: Array<() => Promise<void> | void> = []
  let embedded: EmbeddedMongo | undefined

  const start = async (): Promise<StartedApp> => {
    if (!config.mongodbUri) {
      embedded = await startEmbeddedMongo({ port: 0 })
      stops.push(() => embedded?.stop())
    }
    const uri = config.mongodbUri ?? embedded!.uri
    const client = new MongoClient(uri, { appName: `changegate-${config.nodeId}` })
    await client.connect()
    stops.push(() => client.close())
    const db = client.db(config.mongodbDb)
    const streamClient = new MongoClient(uri, { appName: `changegate-${config.nodeId}`, maxPoolSize: 10 })
    await streamClient.connect()
    stops.push(() => streamClient.close())
    const problems = await ensureCollections(
      db,
      models.models.map((m) => ({ name: m.collection, tenantField: m.tenantField })),
    )
    for (const problem of problems) logger.warn(problem)

    const now = async (): Promise<Position> => {
      const reply: Document = await db.command({ ping: 1 })
      const time = (reply.operationTime ?? reply.$clusterTime?.clusterTime) as { high: number; low: number }
      return { kind: 'time', time: { t: time.high, i: time.low } }
    }

    const mode = config.redisUrl
      ? createRedisMode({ redisUrl: config.redisUrl, shardedPubSub: config.redisShardedPubSub, nodeId: config.nodeId, now, logger })
      : createInProcessMode()
    stops.push(() => mode.stop())
    const streams = createStreamRegistry({
      db,
      streamDb: streamClient.db(config.mongodbDb),
      createStream: mode.createStream,
      nodeId: config.nodeId,
      bufferSize: config.subscriptionBufferSize,
      slowConsumerTimeoutMs: config.slowConsumerTimeoutMs,
      lingerMs: config.lingerMs,
      tenantFieldOf: (collection) => models.byCollection(collection)?.tenantField ?? null,
      onSubscriptionOpened: (filter) => metrics.subscriptionsActive.inc({ kind: filter.collection }),
      onSubscriptionClosed: (filter) => metrics.subscriptionsActive.dec({ kind: filter.collection }),
      observer: {
        onEvent: (key, lagMs) => {
          metrics.eventsReceived.inc({ stream: key })
          metrics.streamLag.set({ stream: key }, lagMs / 1000)
        },
        onResume: (key) => metrics.streamResumes.inc({ stream: key }),
        onStateChange: (key, state) => logger.info({ stream: key, state }, 'stream state'),
      },
    })
    stops.push(() => streams.stop())
    const gaugeStreams = setInterval(() => {
      metrics.streamsByState.reset()
      for (const status of streams.statuses()) metrics.streamsByState.inc({ state: status.state })
    }, 1000)
    gaugeStreams.unref()
    stops.push(() => clearInterval(gaugeStreams))

    const cursors = createCursorCodec(config.cursorSecret)
    const authenticator = createAuthenticator({ secret: config.jwtSecret, auth: models.auth, logger })
    const startedAt = new Date()
    let address = ''

    const localNode = () => {
      const live = gateway.stats()
      return {
        id: config.nodeId,
        address,
        startedAt,
        heartbeatAgeMs: 0,
        connections: live.connections,
        subscriptions: live.subscriptions,
        ownedStreams: streams.statuses().map((s) => s.key),
      }
    }

    const aggregates = createAggregateRegistry({
      db,
      streams,
      now,
      maxGroups: config.aggregateMaxGroups,
      lingerMs: config.lingerMs,
      observer: {
        onRebuild: (code) => {
          metrics.aggregateRebuilds.inc({ code })
          logger.info({ code }, 'live aggregate fell behind: computing it again')
        },
      },
    })
    stops.push(() => aggregates.stop())
    const gaugeAggregates = setInterval(() => {
      const { aggregates: held, subscribers } = aggregates.stats()
      metrics.aggregatesActive.set({ what: 'aggregates' }, held)
      metrics.aggregatesActive.set({ what: 'subscribers' }, subscribers)
    }, 1000)
    gaugeAggregates.unref()
    stops.push(() => clearInterval(gaugeAggregates))
    const services = createGatewayServices({ db, models, registry: streams, aggregates, cursors, metrics, now, nodes: () => mode.nodes(localNode()) })

    const devTokens = config.jwtSecretGenerated && authenticator.mode === 'hs256'
      ? {
          admin: await authenticator.sign({ sub: 'dev-admin', tenant: DEMO_TENANTS[0], scope: 'admin' }, 7 * 24 * 3600),
          ...Object.fromEntries(
            await Promise.all(DEMO_TENANTS.map(async (t) => [t, await authenticator.sign({ sub: `dev-${t}`, tenant: t }, 7 * 24 * 3600)])),
          ),
        }
      : undefined

    const gateway = createGatewayServer({
      config,
      slowConsumerTimeoutMs: config.slowConsumerTimeoutMs,
      schema,
      authenticator,
      createContext: (auth) => ({ services, loaders: services.createLoaders(auth.tenant) }),
      readiness: async () => {
        const mongo = await db.command({ ping: 1 }).then(
          () => true,
          () => false,
        )
        const redis = await mode.ready()
        const failed = streams.statuses().filter((s) => s.state === 'FAILED').length
        const checks: Record<string, boolean | string> = { mongodb: mongo, streams: failed === 0 ? true : `${failed} failed` }
        if (mode.kind === 'redis') checks.redis = redis
        return { ready: mongo && redis && failed === 0, checks }
      },
      metrics,
      logger,
      plugins: [useSharedSubscriptionExecution() as Plugin],
      graphiqlHeaders: devTokens && !config.production ? { Authorization: `Bearer ${devTokens.admin}` } : undefined,
      devToken: devTokens && !config.production ? devTokens.admin : undefined,
      // The demo opens on the README's subscription; a team's own models on their first one.
      exampleSubscription: options.models ? exampleSubscription(models.models[0]) : undefined,
      consoleChart: consoleChartOf(models.models[0]),
    })
    const listening = await gateway.listen()
    address = listening.url
    stops.push(() => gateway.stop())
    mode.start(() => {
      const statuses = streams.statuses()
      return {
        address,
        startedAt,
        ...gateway.stats(),
        neededStreams: statuses.filter((s) => s.subscribers > 0).map((s) => s.key),
        ownedStreams: statuses.filter((s) => s.ownerNode === config.nodeId).map((s) => s.key),
      }
    })

    if (demo) {
      await seedDemo(db)
      const traffic = startDemoTraffic(db, { onError: (e) => logger.warn({ err: e }, 'demo traffic write failed') })
      stops.push(() => traffic.stop())
    }

    const banner = [
      `changegate ${config.nodeId} listening on ${listening.url} (GraphiQL in the browser)`,
      `MongoDB: ${embedded ? `embedded (${embedded.uri})` : redact(uri)}, database ${config.mongodbDb}`,
      `Fan-out: ${config.redisUrl ? (config.redisUrl.includes('+cluster://') ? 'Redis Cluster' : 'Redis') + (config.redisShardedPubSub ? ' (sharded pub/sub)' : '') : 'in-process (single node)'}${demo ? '; demo traffic on' : ''}`,
    ]
    if (devTokens) {
      banner.push('Dev tokens (random secret for this run; paste as "Authorization: Bearer <token>"):')
      for (const [name, token] of Object.entries(devTokens)) banner.push(`  ${name}: ${token}`)
    }
    return { url: listening.url, banner }
  }

  return {
    logger,
    start,
    async stop() {
      // Stop in reverse order of start: server first (no new work), Mongo last.
      for (const stop of stops.reverse()) {
        try {
          await stop()
        } catch (error) {
          logger.warn({ err: error }, 'error while stopping')
        }
      }
      stops.length = 0
    },
  }
}
