import {
  DECLARE_INTEREST,
  DEFAULT_PREFIX,
  HEARTBEAT,
  INTERESTED_NODES,
  LIVE_NODES,
  redisKeys,
  runScript,
  type RedisClient,
} from './redis-scripts.js'

/**
 * Cluster membership and interest, in Redis.
 *
 * Each node heartbeats its info into one hash and its liveness expiry into a sorted set (one hash slot, `{nodes}`,
 * so the scripts work on a Redis Cluster); a node whose expiry passed (no heartbeat for 3 intervals) is not live
 * and is dropped by the next `nodes()` call. Nodes declare which shared streams their clients need, in a sorted set
 * per stream (in the stream's slot), with an expiry measured on Redis's clock, so a node that dies stops counting
 * as interested without anyone cleaning up after it. Lost writes (a failover) cost at most one heartbeat interval.
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
  readonly redis: RedisClient
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
    // One command per key: on a Redis Cluster the keys live in different slots.
    await Promise.all([redis.hdel(keys.nodes, nodeId), redis.zrem(keys.alive, nodeId), ...interestKeys.map((key) => redis.zrem(key, nodeId))])
  }

  return {
    async heartbeat(info) {
      if (info.id !== nodeId) throw new TypeError(`heartbeat for node ${info.id} from registry of node ${nodeId}`)
      const record: NodeInfo = { ...info, heartbeatAt: Date.now() }
      await runScript(redis, HEARTBEAT, [keys.nodes, keys.alive], [nodeId, JSON.stringify(record), liveForMs])
    },
    async nodes() {
      const values = await runScript(redis, LIVE_NODES, [keys.nodes, keys.alive], [])
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
      const ttl = Math.max(1, Math.round(ttlMs))
      await Promise.all(streamKeys.map((streamKey) => runScript(redis, DECLARE_INTEREST, [keys.interest(streamKey)], [nodeId, ttl])))
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
