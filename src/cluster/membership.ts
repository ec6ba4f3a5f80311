import type { Redis } from 'ioredis'
import {
  DECLARE_INTEREST,
  DEFAULT_PREFIX,
  INTERESTED_NODES,
  LIVE_NODES,
  redisKeys,
  runScript,
} from './redis-scripts.js'

/**
 * Cluster membership and interest, in Redis.
 *
 * Each node heartbeats its info into one hash and refreshes its own expiring "alive" key; a node whose alive key
 * expired (no heartbeat for 3 intervals) is not live and is dropped from the hash by the next `nodes()` call.
 * Nodes declare which shared streams their clients need, with an expiry measured on Redis's clock, so a node that
 * dies stops counting as interested without anyone cleaning up after it.
 */

export interface NodeInfo {
  readonly id: string
  /** Where the node serves clients (e.g. its /graphql URL). */
  readonly address: string
  readonly startedAt: number
  /** When this info was written (ms since the epoch, the node's clock). */
  readonly heartbeatAt: number
  readonly connections: number
  readonly subscriptions: number
  readonly ownedStreams: string[]
}

export interface ClusterRegistry {
  /** Writes the node's info and marks it live for 3 heartbeat intervals; call every interval. */
  heartbeat(info: Omit<NodeInfo, 'heartbeatAt'>): Promise<void>
  /** Live nodes (heartbeat within 3 intervals), sorted by id. */
  nodes(): Promise<NodeInfo[]>
  /** Marks this node interested in the streams for `ttlMs` from now; call again to extend. */
  declareInterest(streamKeys: readonly string[], ttlMs: number): Promise<void>
  /** Nodes whose interest in the stream has not expired, sorted. */
  interestedNodes(streamKey: string): Promise<string[]>
  /** Removes this node: its info, its liveness and the interest it declared. */
  leave(): Promise<void>
  /** Same as `leave()`. */
  stop(): Promise<void>
}

export interface ClusterRegistryOptions {
  readonly redis: Redis
  readonly nodeId: string
  /** Key prefix. Default `cg:`. */
  readonly prefix?: string
  /** How often the caller heartbeats; a node is live for 3 of these after its last heartbeat. Default 2000 ms. */
  readonly heartbeatIntervalMs?: number
}

export function createClusterRegistry(options: ClusterRegistryOptions): ClusterRegistry {
  const { redis, nodeId } = options
  const keys = redisKeys(options.prefix ?? DEFAULT_PREFIX)
  const liveForMs = 3 * (options.heartbeatIntervalMs ?? 2000)
  const declared = new Set<string>()

  const leave = async () => {
    const interestKeys = [...declared].map((streamKey) => keys.interest(streamKey))
    declared.clear()
    const batch = redis.multi().hdel(keys.nodes, nodeId).del(keys.alive(nodeId))
    for (const key of interestKeys) batch.zrem(key, nodeId)
    await batch.exec()
  }

  return {
    async heartbeat(info) {
      if (info.id !== nodeId) throw new TypeError(`heartbeat for node ${info.id} from registry of node ${nodeId}`)
      const record: NodeInfo = { ...info, heartbeatAt: Date.now() }
      await redis
        .multi()
        .hset(keys.nodes, nodeId, JSON.stringify(record))
        .set(keys.alive(nodeId), '1', 'PX', liveForMs)
        .exec()
    },
    async nodes() {
      const values = await runScript(redis, LIVE_NODES, [keys.nodes], [keys.alivePrefix])
      if (!Array.isArray(values)) return []
      const nodes: NodeInfo[] = []
      for (const value of values) {
        const info = parseNodeInfo(value)
        if (info) nodes.push(info)
      }
      return nodes.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    },
    async declareInterest(streamKeys, ttlMs) {
      if (streamKeys.length === 0) return
      for (const streamKey of streamKeys) declared.add(streamKey)
      const interestKeys = streamKeys.map((streamKey) => keys.interest(streamKey))
      await runScript(redis, DECLARE_INTEREST, interestKeys, [nodeId, Math.max(1, Math.round(ttlMs))])
    },
    async interestedNodes(streamKey) {
      const ids = await runScript(redis, INTERESTED_NODES, [keys.interest(streamKey)], [])
      return Array.isArray(ids) ? ids.filter((id): id is string => typeof id === 'string').sort() : []
    },
    leave,
    stop: leave,
  }
}

/** A hash entry that does not parse (e.g. written by an incompatible version) is skipped. */
function parseNodeInfo(value: unknown): NodeInfo | undefined {
  if (typeof value !== 'string') return undefined
  let info: unknown
  try {
    info = JSON.parse(value)
  } catch {
    return undefined
  }
  if (typeof info !== 'object' || info === null) return undefined
  const record = info as Record<string, unknown>
  const numbers = ['startedAt', 'heartbeatAt', 'connections', 'subscriptions'] as const
  if (typeof record.id !== 'string' || typeof record.address !== 'string') return undefined
  if (!numbers.every((name) => typeof record[name] === 'number')) return undefined
  if (!Array.isArray(record.ownedStreams) || !record.ownedStreams.every((s) => typeof s === 'string')) return undefined
  return info as NodeInfo
}
