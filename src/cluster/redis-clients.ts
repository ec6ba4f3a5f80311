import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis'
import type { RedisTarget } from '../config/redis-url.js'
import type { RedisClient } from './redis-scripts.js'

/** The two connections a node keeps to Redis: commands and scripts, and pub/sub. */
export interface RedisClients {
  readonly commands: RedisClient
  /** The pub/sub connection in use (a new one after `renewSubscriber`). */
  readonly subscriber: RedisClient
  /** Where they point, without credentials, for log lines. */
  readonly description: string
  /** Both connected and usable (on a cluster: the slot map is known). */
  isReady(): boolean
  /**
   * Disconnects the pub/sub connection and opens a new one with the same settings, which `subscriber` names from
   * then on (`onNewSubscriber` sees it first).
   */
  renewSubscriber(): RedisClient
  disconnect(): void
}

export interface RedisClientsOptions {
  readonly connectionName: string
  /** The subscriber will use sharded pub/sub: on a cluster it then keeps one connection per primary. */
  readonly sharded: boolean
  /** Called with every subscriber connection created after the first one (`renewSubscriber`). */
  readonly onNewSubscriber?: (subscriber: RedisClient) => void
}

const retryStrategy = (attempt: number) => Math.min(100 * attempt, 2000)

/**
 * One Redis (`redis://`, `rediss://`) or a Redis Cluster from its seed nodes. Cluster clients follow MOVED/ASK
 * redirections (slot migrations), refresh the slot map when a replica is promoted, and retry commands during the
 * failover instead of failing them at once.
 */
export function createRedisClients(target: RedisTarget, options: RedisClientsOptions): RedisClients {
  if (target.kind === 'single') {
    const single: RedisOptions = { retryStrategy, connectionName: options.connectionName }
    const commands = new Redis(target.url, single)
    return withRenewableSubscriber(commands, () => new Redis(target.url, single), `Redis at ${target.url.replace(/\/\/[^@/]*@/, '//***@')}`, options)
  }
  const clusterOptions = (sharded: boolean): ClusterOptions => ({
    clusterRetryStrategy: retryStrategy,
    retryDelayOnFailover: 200,
    retryDelayOnClusterDown: 200,
    retryDelayOnTryAgain: 100,
    slotsRefreshTimeout: 2000,
    // Sharded subscriptions follow their slot only when the client learns the slot moved (a migration, a promoted
    // replica); the subscriber sends no commands that would be redirected, so it polls the slot map.
    slotsRefreshInterval: 1000,
    shardedSubscribers: sharded,
    redisOptions: {
      connectionName: options.connectionName,
      username: target.username,
      password: target.password,
      tls: target.tls ? {} : undefined,
      // A primary that died must not hold commands for long: the cluster client retries them on its replacement.
      connectTimeout: 2000,
    },
  })
  const nodes = target.nodes.map(({ host, port }) => ({ host, port }))
  const commands = new Cluster(nodes, clusterOptions(false))
  return withRenewableSubscriber(
    commands,
    () => new Cluster(nodes, clusterOptions(options.sharded)),
    `Redis Cluster at ${target.nodes.map(({ host, port }) => `${host}:${port}`).join(',')}`,
    options,
  )
}

function withRenewableSubscriber(commands: RedisClient, connect: () => RedisClient, description: string, options: RedisClientsOptions): RedisClients {
  let subscriber = connect()
  return {
    commands,
    get subscriber() {
      return subscriber
    },
    description,
    isReady: () => commands.status === 'ready' && subscriber.status === 'ready',
    renewSubscriber() {
      subscriber.disconnect()
      subscriber = connect()
      options.onNewSubscriber?.(subscriber)
      return subscriber
    },
    disconnect() {
      commands.disconnect()
      subscriber.disconnect()
    },
  }
}
