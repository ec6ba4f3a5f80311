import { DEFAULT_PREFIX, FENCED_DEL, FENCED_SET, leaseValue, redisKeys, runScript, type RedisClient } from './redis-scripts.js'
import type { Position } from '../mongo/position.js'
import type { LeaseToken } from './lease-manager.js'

/**
 * Resume positions of shared streams, persisted in Redis by their owners so the next owner resumes where the
 * last one stopped. Writes are fenced: only the current lease holder (same node *and* epoch) can save, so an owner
 * that was paused past its lease never overwrites its successor's position.
 *
 * Redis is the fast path, not the durable log: after a Redis restart positions are gone (`load` returns
 * undefined), and after a failover to a replica that missed the last saves a position can be older than the last
 * one saved. The caller decides where to resume from; an older position only means events published again, which
 * consumers drop by position.
 */

export interface SavedPosition {
  readonly position: Position
  /** Epoch of the lease that saved it. */
  readonly epoch: number
  /** Wall-clock time of the save (ms since the epoch, saver's clock). */
  readonly savedAt: number
}

export interface PositionStore {
  /** Persists only if `lease` is still the current holder. Returns false if fenced out. */
  save(lease: LeaseToken, position: Position): Promise<boolean>
  load(streamKey: string): Promise<SavedPosition | undefined>
  /** Forgets the position (the stream was invalidated or nobody needs it), only if `lease` is still current. */
  clear(lease: LeaseToken): Promise<boolean>
}

export interface PositionStoreOptions {
  readonly redis: RedisClient
  /** Key prefix; must match the lease manager's. Default `cg:`. */
  readonly prefix?: string
}

export function createPositionStore(options: PositionStoreOptions): PositionStore {
  const { redis } = options
  const keys = redisKeys(options.prefix ?? DEFAULT_PREFIX)
  return {
    async save(lease, position) {
      const record = { position, epoch: lease.epoch, nodeId: lease.nodeId, savedAt: Date.now() }
      const saved = await runScript(
        redis,
        FENCED_SET,
        [keys.lease(lease.streamKey), keys.position(lease.streamKey)],
        [leaseValue(lease.nodeId, lease.epoch), JSON.stringify(record)],
      )
      return saved === 1
    },
    async clear(lease) {
      const cleared = await runScript(
        redis,
        FENCED_DEL,
        [keys.lease(lease.streamKey), keys.position(lease.streamKey)],
        [leaseValue(lease.nodeId, lease.epoch)],
      )
      return cleared === 1
    },
    async load(streamKey) {
      const text = await redis.get(keys.position(streamKey))
      if (text === null) return undefined
      return parseSavedPosition(streamKey, text)
    },
  }
}

/**
 * A stored record that does not parse is an error, never "no position": resuming from "now" instead would skip
 * events silently.
 */
function parseSavedPosition(streamKey: string, text: string): SavedPosition {
  const invalid = () => new TypeError(`stored position of stream ${streamKey} is malformed`)
  let record: unknown
  try {
    record = JSON.parse(text)
  } catch {
    throw invalid()
  }
  if (!isObject(record) || !isPosition(record.position)) throw invalid()
  const { position, epoch, savedAt } = record
  if (typeof epoch !== 'number' || typeof savedAt !== 'number') throw invalid()
  return { position, epoch, savedAt }
}

function isPosition(value: unknown): value is Position {
  if (!isObject(value)) return false
  if (value.kind === 'time') return isClusterTime(value.time)
  if (value.kind === 'token') return typeof value.token === 'string' && (value.time === null || isClusterTime(value.time))
  return false
}

const isClusterTime = (value: unknown) => isObject(value) && typeof value.t === 'number' && typeof value.i === 'number'

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null
