import type { Redis } from 'ioredis'

/**
 * Redis key names and the Lua scripts that make leases, fenced publishes and fenced position saves atomic.
 *
 * Every key of one stream derives from the same prefix, so a lease manager, a position store and a fan-out that
 * share a prefix fence each other. A lease key holds `nodeId:epoch`; a fenced write compares that whole value,
 * so a holder whose lease expired (even if it was re-acquired by the same node since) is refused.
 */

export const DEFAULT_PREFIX = 'cg:'

export interface RedisKeys {
  /** String `nodeId:epoch`, expiring after the lease TTL. */
  lease(streamKey: string): string
  /** Counter: the last epoch handed out for the stream. */
  epoch(streamKey: string): string
  /** Counter: the last sequence number published on the stream. */
  seq(streamKey: string): string
  /** JSON: the stream's persisted resume position. */
  position(streamKey: string): string
  /** Pub/sub channel of the stream. */
  channel(streamKey: string): string
  /** Hash nodeId → JSON node info. */
  readonly nodes: string
  /** Expiring marker: the node heartbeated recently. */
  alive(nodeId: string): string
  /** Prefix of the `alive` keys. */
  readonly alivePrefix: string
  /** Sorted set nodeId → interest expiry (ms, Redis clock). */
  interest(streamKey: string): string
}

export function redisKeys(prefix: string = DEFAULT_PREFIX): RedisKeys {
  return {
    lease: (streamKey) => `${prefix}lease:${streamKey}`,
    epoch: (streamKey) => `${prefix}epoch:${streamKey}`,
    seq: (streamKey) => `${prefix}seq:${streamKey}`,
    position: (streamKey) => `${prefix}position:${streamKey}`,
    channel: (streamKey) => `${prefix}stream:${streamKey}`,
    nodes: `${prefix}nodes`,
    alive: (nodeId) => `${prefix}alive:${nodeId}`,
    alivePrefix: `${prefix}alive:`,
    interest: (streamKey) => `${prefix}interest:${streamKey}`,
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
 * calls, reordering sequence numbers). The scripts are a few hundred bytes.
 */
export const runScript = (redis: Redis, lua: string, keys: readonly string[], args: readonly (string | number)[]) =>
  redis.eval(lua, keys.length, ...keys, ...args)

const REDIS_NOW_MS = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
`

/**
 * KEYS lease, epoch; ARGV nodeId, ttlMs. Returns the new epoch, or nil when the lease is held.
 *
 * A missing epoch counter (first lease of the stream, or Redis lost its data) starts from Redis's clock in ms, so
 * epochs handed out after a restart are still higher than those handed out before it.
 */
export const ACQUIRE_LEASE = `${REDIS_NOW_MS}
if redis.call('EXISTS', KEYS[1]) == 1 then return false end
if redis.call('EXISTS', KEYS[2]) == 0 then redis.call('SET', KEYS[2], string.format('%d', now)) end
local epoch = redis.call('INCR', KEYS[2])
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
 * KEYS lease, seq; ARGV value, channel, header, body. Publishes `seq \n header \n body` when the lease is still
 * ours and returns seq; returns -1 (and publishes nothing) when fenced out.
 */
export const FENCED_PUBLISH = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
local seq = redis.call('INCR', KEYS[2])
redis.call('PUBLISH', ARGV[2], string.format('%d', seq) .. '\\n' .. ARGV[3] .. '\\n' .. ARGV[4])
return seq
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

/**
 * KEYS nodes; ARGV alive-key prefix. Returns the info of nodes whose alive key exists and drops the others from
 * the hash, in one step so a node heartbeating meanwhile is never dropped. (Builds key names from ARGV: single
 * Redis or one hash slot only.)
 */
export const LIVE_NODES = `
local all = redis.call('HGETALL', KEYS[1])
local live = {}
for i = 1, #all, 2 do
  if redis.call('EXISTS', ARGV[1] .. all[i]) == 1 then
    live[#live + 1] = all[i + 1]
  else
    redis.call('HDEL', KEYS[1], all[i])
  end
end
return live
`

/** KEYS interest sets; ARGV nodeId, ttlMs. Interest expires ttlMs from now on Redis's clock. */
export const DECLARE_INTEREST = `${REDIS_NOW_MS}
local ttl = tonumber(ARGV[2])
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, now + ttl, ARGV[1])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  if redis.call('PTTL', key) < ttl then redis.call('PEXPIRE', key, ttl) end
end
return #KEYS
`

/** KEYS interest set. Nodes whose interest has not expired on Redis's clock. */
export const INTERESTED_NODES = `${REDIS_NOW_MS}
return redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf')
`
