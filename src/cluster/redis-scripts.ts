import type { Cluster, Redis } from 'ioredis'

/** One Redis, or a Redis Cluster: every script and command here works on both. */
export type RedisClient = Redis | Cluster

/**
 * Redis key names and the Lua scripts that make leases, fenced publishes and fenced position saves atomic.
 *
 * Every key of one stream carries the stream key as its hash tag (`cg:{db.orders}:lease`, `…:epoch`,
 * `…:position`, `…:interest`, and the channel `…:events`), so on a Redis Cluster all of a stream's keys and its
 * channel live in one slot: each script touches one slot, and streams spread over the shards. Membership keys share
 * the tag `{nodes}`. A lease key holds `nodeId:epoch`; a fenced write compares that whole value, so a holder whose
 * lease expired (even if it was re-acquired by the same node since) is refused.
 */

export const DEFAULT_PREFIX = 'cg:'

export interface RedisKeys {
  /** String `nodeId:epoch`, expiring after the lease TTL. */
  lease(streamKey: string): string
  /** The last epoch handed out for the stream. */
  epoch(streamKey: string): string
  /** JSON: the stream's persisted resume position. */
  position(streamKey: string): string
  /** Pub/sub channel of the stream (same slot as its keys, for sharded pub/sub). */
  channel(streamKey: string): string
  /** Sorted set nodeId → interest expiry (ms, Redis clock). */
  interest(streamKey: string): string
  /** Hash nodeId → JSON node info. */
  readonly nodes: string
  /** Sorted set nodeId → liveness expiry (ms, Redis clock); same slot as `nodes`. */
  readonly alive: string
}

export function redisKeys(prefix: string = DEFAULT_PREFIX): RedisKeys {
  const stream = (streamKey: string, name: string) => `${prefix}{${streamKey}}:${name}`
  return {
    lease: (streamKey) => stream(streamKey, 'lease'),
    epoch: (streamKey) => stream(streamKey, 'epoch'),
    position: (streamKey) => stream(streamKey, 'position'),
    channel: (streamKey) => stream(streamKey, 'events'),
    interest: (streamKey) => stream(streamKey, 'interest'),
    nodes: `${prefix}{nodes}`,
    alive: `${prefix}{nodes}:alive`,
  }
}

/** The value a lease key holds while `nodeId` holds the lease with `epoch`. */
export const leaseValue = (nodeId: string, epoch: number): string => `${nodeId}:${epoch}`

/** Parses a lease key's value; the node id may itself contain `:`. */
export function parseLeaseValue(value: string): { nodeId: string; epoch: number } | undefined {
  const at = value.lastIndexOf(':')
  const epoch = Number(value.slice(at + 1))
  if (at <= 0 || !Number.isSafeInteger(epoch) || epoch <= 0) return undefined
  return { nodeId: value.slice(0, at), epoch }
}

/**
 * Scripts run with EVAL, not EVALSHA: a script cache lost with a Redis restart then never fails a call, and calls
 * on one connection execute in the order they were made (an EVALSHA retried after NOSCRIPT could overtake later
 * calls, reordering a channel's messages). The scripts are a few hundred bytes.
 */
export const runScript = (redis: RedisClient, lua: string, keys: readonly string[], args: readonly (string | number)[]) =>
  redis.eval(lua, keys.length, ...keys, ...args)

const REDIS_NOW_MS = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
`

/**
 * KEYS lease, epoch; ARGV nodeId, ttlMs, minEpoch. Returns the new epoch, or nil when the lease is held.
 *
 * The epoch is the largest of: the last epoch handed out plus 1, Redis's clock in ms, and the highest epoch the
 * caller has seen on the stream plus 1. A failover to a replica that missed the last writes, or a Redis that lost
 * its data, can roll the stored epoch back; the clock (failover takes longer than the clocks' skew) and the epochs
 * nodes saw on the channel keep new epochs above every epoch handed out before.
 */
export const ACQUIRE_LEASE = `${REDIS_NOW_MS}
if redis.call('EXISTS', KEYS[1]) == 1 then return false end
local last = tonumber(redis.call('GET', KEYS[2]) or '0') or 0
local epoch = math.max(last + 1, now, (tonumber(ARGV[3]) or 0) + 1)
redis.call('SET', KEYS[2], string.format('%d', epoch))
redis.call('SET', KEYS[1], ARGV[1] .. ':' .. string.format('%d', epoch), 'PX', ARGV[2])
return epoch
`

/** KEYS lease; ARGV value, ttlMs. Returns 1 when the lease was still ours and was extended, else 0. */
export const RENEW_LEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`

/** KEYS lease; ARGV value. Deletes the lease only if it is still ours; returns 1 if deleted. */
export const RELEASE_LEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`

/**
 * KEYS lease; ARGV value, command (`PUBLISH` or `SPUBLISH`), channel, frame. Publishes the frame when the lease is
 * still ours and returns 1; returns -1 (and publishes nothing) when fenced out. The channel shares the lease key's
 * hash tag, so `SPUBLISH` reaches the shard that owns the stream's slot.
 */
export const FENCED_PUBLISH = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
redis.call(ARGV[2], ARGV[3], ARGV[4])
return 1
`

/** KEYS lease, key; ARGV value. Deletes key when the lease is still ours: 1, else 0. */
export const FENCED_DEL = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[2])
return 1
`

/** KEYS lease, position; ARGV value, json. Stores json when the lease is still ours: 1, else 0. */
export const FENCED_SET = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[2])
return 1
`

/** KEYS nodes, alive; ARGV nodeId, info JSON, liveForMs. The node is live until liveForMs from now (Redis clock). */
export const HEARTBEAT = `${REDIS_NOW_MS}
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[3]), ARGV[1])
return 1
`

/**
 * KEYS nodes, alive. Returns the info of live nodes and drops the others from both keys, in one step so a node
 * heartbeating meanwhile is never dropped.
 */
export const LIVE_NODES = `${REDIS_NOW_MS}
local all = redis.call('HGETALL', KEYS[1])
local live = {}
for i = 1, #all, 2 do
  local expiry = tonumber(redis.call('ZSCORE', KEYS[2], all[i]))
  if expiry and expiry > now then
    live[#live + 1] = all[i + 1]
  else
    redis.call('HDEL', KEYS[1], all[i])
    redis.call('ZREM', KEYS[2], all[i])
  end
end
return live
`

/** KEYS interest set; ARGV nodeId, ttlMs. Interest expires ttlMs from now on Redis's clock. */
export const DECLARE_INTEREST = `${REDIS_NOW_MS}
local ttl = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
return 1
`

/** KEYS interest set. Nodes whose interest has not expired on Redis's clock. */
export const INTERESTED_NODES = `${REDIS_NOW_MS}
return redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf')
`
