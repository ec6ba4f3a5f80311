import { parseRedisUrl } from '../config/redis-url.js'
import type { FanOutMode } from '../fanout/modes.js'
import type { Position } from '../mongo/position.js'
import type { Logger } from '../observability/logger.js'
import { createClusterStream } from './cluster-stream.js'
import { createLeaseManager } from './lease-manager.js'
import { createClusterRegistry } from './membership.js'
import { createPositionStore } from './position-store.js'
import { createRedisClients } from './redis-clients.js'
import { createRedisFanOut } from './redis-fanout.js'

export interface RedisModeOptions {
  /** `redis://`, `rediss://`, or a cluster's seed nodes `redis+cluster://host:port,…`. */
  readonly redisUrl: string
  /** Sharded pub/sub (Redis ≥ 7) for the fan-out. Default false. */
  readonly shardedPubSub?: boolean
  readonly nodeId: string
  readonly now: () => Promise<Position>
  readonly logger: Logger
  /** Lease time to live (ms). Default 5000. */
  readonly leaseTtlMs?: number
}

const HEARTBEAT_MS = 2000
const INTEREST_TTL_MS = 3 * HEARTBEAT_MS

export function createRedisMode(options: RedisModeOptions): FanOutMode {
  const { logger, nodeId } = options
  const sharded = options.shardedPubSub ?? false
  let lastComplaint = 0
  const complain = (error: Error) => {
    if (Date.now() - lastComplaint < 10_000) return
    lastComplaint = Date.now()
    logger.error({ err: error }, `${clients.description} is unreachable; retrying`)
  }
  const clients = createRedisClients(parseRedisUrl(options.redisUrl), {
    connectionName: `changegate-${nodeId}`,
    sharded,
    onNewSubscriber: (renewed) => renewed.on('error', complain),
  })
  const { commands: redis, subscriber } = clients
  redis.on('error', complain)
  subscriber.on('error', complain)

  const leases = createLeaseManager({ redis, nodeId, ttlMs: options.leaseTtlMs })
  const positions = createPositionStore({ redis })
  const fanout = createRedisFanOut({
    publisher: redis,
    subscriber,
    sharded,
    renewSubscriber: () => clients.renewSubscriber(),
    onError: (e) => logger.warn({ err: e }, 'fan-out message dropped'),
    onSubscriptionError: (e) => logger.warn({ err: e }, 'sharded pub/sub subscription not live; restoring it'),
  })
  const cluster = createClusterRegistry({ redis, nodeId, heartbeatIntervalMs: HEARTBEAT_MS })
  let timer: NodeJS.Timeout | undefined

  return {
    kind: 'redis',
    createStream: (streamOptions) =>
      createClusterStream({
        ...streamOptions,
        cluster: {
          fanout,
          leases,
          positions,
          now: options.now,
          othersInterested: async (key) => (await cluster.interestedNodes(key)).some((id) => id !== nodeId),
        },
      }),
    start(state) {
      const beat = async () => {
        const s = state()
        await cluster.heartbeat({
          id: nodeId,
          address: s.address,
          startedAt: s.startedAt.getTime(),
          connections: s.connections,
          subscriptions: s.subscriptions,
          ownedStreams: [...s.ownedStreams],
        })
        await cluster.declareInterest(s.neededStreams, INTEREST_TTL_MS)
      }
      const tick = () => void beat().catch(() => undefined)
      tick()
      timer = setInterval(tick, HEARTBEAT_MS)
      timer.unref()
    },
    ready: async () => clients.isReady(),
    async nodes() {
      const now = Date.now()
      return (await cluster.nodes()).map((n) => ({
        id: n.id,
        address: n.address,
        startedAt: new Date(n.startedAt),
        heartbeatAgeMs: Math.max(0, now - n.heartbeatAt),
        connections: n.connections,
        subscriptions: n.subscriptions,
        ownedStreams: n.ownedStreams,
      }))
    },
    async stop() {
      clearInterval(timer)
      await fanout.stop().catch(() => undefined)
      await leases.stop().catch(() => undefined)
      await cluster.leave().catch(() => undefined)
      clients.disconnect()
    },
  }
}
