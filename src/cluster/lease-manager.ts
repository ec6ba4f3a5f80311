import { performance } from 'node:perf_hooks'
import {
  ACQUIRE_LEASE,
  DEFAULT_PREFIX,
  RELEASE_LEASE,
  RENEW_LEASE,
  leaseValue,
  parseLeaseValue,
  redisKeys,
  runScript,
  type RedisClient,
} from './redis-scripts.js'

/**
 * Stream ownership across nodes: one lease per shared stream, with a fencing epoch.
 *
 * A lease key holds `nodeId:epoch` and expires after the TTL unless its holder renews it (every TTL/3). Each
 * successful acquisition stores a new epoch, above the stored one, in the same script, so epochs strictly increase
 * per stream across owners, also across lease expiries. Fenced writes (publishes, position saves) compare the
 * lease key with the writer's `nodeId:epoch`, so a holder that lost its lease, e.g. a process that was paused past
 * the TTL, is refused by Redis even before it notices.
 *
 * The holder also keeps a local deadline on the monotonic clock (`performance.now()`): TTL after the last
 * successful renewal was *sent*, which is never later than Redis's expiry. Once it passes, `isHeld` is false and
 * `lost` resolves, even if no renewal could be attempted (Redis unreachable, event loop blocked).
 *
 * Redis restart, or a Redis Cluster failover to a replica that missed the last writes: lease keys and epochs may be
 * lost or rolled back. A previous holder's `nodeId:epoch` is then gone (its writes are refused, its renewals find
 * the lease lost) or still there (it keeps owning; nobody else could take it). A new epoch is never below Redis's
 * clock (ms) nor below the highest epoch the caller saw, so a node that re-acquires a stream never gets back an
 * epoch it held before, which would revive its stale tokens.
 */

/** How long a lease lives without renewal: the longest a dead owner's stream waits for a successor. */
export const DEFAULT_LEASE_TTL_MS = 5000

export interface LeaseToken {
  readonly streamKey: string
  readonly nodeId: string
  readonly epoch: number
}

export interface Lease extends LeaseToken {
  /**
   * Resolves when the lease is lost (a renewal found another holder, or it could not be renewed before the TTL
   * elapsed locally); the holder must stop. Also resolves after `release()`.
   */
  readonly lost: Promise<void>
  /** False once the lease is lost or released. Reading it checks the local deadline first. */
  readonly isHeld: boolean
  /** Gives the lease up: deletes the key only if it is still ours. */
  release(): Promise<void>
}

export interface LeaseManager {
  /**
   * Takes the stream's lease if nobody holds it, with a new epoch; undefined when another holder has it. Returns
   * the lease this manager already holds, if any. `minEpoch`: the highest epoch seen on the stream; the new epoch
   * is above it even if Redis lost the stored one.
   */
  tryAcquire(streamKey: string, minEpoch?: number): Promise<Lease | undefined>
  /** The current holder, as Redis sees it. */
  owner(streamKey: string): Promise<LeaseToken | undefined>
  /** Stops renewing and releases every lease this manager holds. */
  stop(): Promise<void>
}

export interface LeaseManagerOptions {
  readonly redis: RedisClient
  /** Written into the lease key; must be unique per node. */
  readonly nodeId: string
  /** Lease time to live. Default 5000 ms; renewals every third of it. */
  readonly ttlMs?: number
  /** Key prefix; must match the fan-out's and position store's. Default `cg:`. */
  readonly prefix?: string
}

export function createLeaseManager(options: LeaseManagerOptions): LeaseManager {
  const { redis, nodeId } = options
  const ttlMs = options.ttlMs ?? DEFAULT_LEASE_TTL_MS
  if (!Number.isSafeInteger(ttlMs) || ttlMs < 3) throw new TypeError(`lease ttlMs must be an integer >= 3, got ${ttlMs}`)
  const keys = redisKeys(options.prefix ?? DEFAULT_PREFIX)
  const held = new Map<string, Lease>()
  let stopped = false

  function startLease(streamKey: string, epoch: number, sentAt: number): Lease {
    const key = keys.lease(streamKey)
    const value = leaseValue(nodeId, epoch)
    let deadline = sentAt + ttlMs
    let active = true
    let renewTimer: NodeJS.Timeout | undefined
    let deadlineTimer: NodeJS.Timeout | undefined
    let resolveLost!: () => void
    const lost = new Promise<void>((resolve) => (resolveLost = resolve))

    const end = () => {
      if (!active) return
      active = false
      clearTimeout(renewTimer)
      clearTimeout(deadlineTimer)
      if (held.get(streamKey) === lease) held.delete(streamKey)
      resolveLost()
    }
    const releaseKey = () => runScript(redis, RELEASE_LEASE, [key], [value]).then(() => undefined)
    const loseLease = () => {
      if (!active) return
      end()
      // Past the local deadline the key may still exist for a moment; deleting it lets the next owner in sooner.
      releaseKey().catch(ignore)
    }
    const stillValid = () => {
      if (active && performance.now() >= deadline) loseLease()
      return active
    }
    // Timers can fire a little before performance.now() reaches their due time (they run on the event loop's
    // cached clock): a check that finds the deadline not yet passed arms the timer again.
    const armDeadline = () => {
      clearTimeout(deadlineTimer)
      deadlineTimer = setTimeout(() => stillValid() && armDeadline(), Math.max(0, deadline - performance.now()) + 1)
      deadlineTimer.unref()
    }
    const scheduleRenewal = (delayMs: number) => {
      if (!active) return
      renewTimer = setTimeout(renew, delayMs)
      renewTimer.unref()
    }
    async function renew() {
      if (!stillValid()) return
      const renewSentAt = performance.now()
      let renewed: unknown
      try {
        renewed = await runScript(redis, RENEW_LEASE, [key], [value, ttlMs])
      } catch {
        // Redis unreachable: retry sooner; the deadline timer ends the lease if no renewal gets through in time.
        scheduleRenewal(ttlMs / 6)
        return
      }
      if (!stillValid()) return
      if (renewed !== 1) return loseLease()
      deadline = renewSentAt + ttlMs
      armDeadline()
      scheduleRenewal(ttlMs / 3)
    }

    const lease: Lease = {
      streamKey,
      nodeId,
      epoch,
      lost,
      get isHeld() {
        return stillValid()
      },
      async release() {
        if (!active) return
        end()
        await releaseKey()
      },
    }
    armDeadline()
    scheduleRenewal(ttlMs / 3)
    return lease
  }

  return {
    async tryAcquire(streamKey, minEpoch = 0) {
      const current = held.get(streamKey)
      if (current?.isHeld) return current
      if (stopped) return undefined
      const sentAt = performance.now()
      const epoch = await runScript(redis, ACQUIRE_LEASE, [keys.lease(streamKey), keys.epoch(streamKey)], [nodeId, ttlMs, minEpoch])
      if (typeof epoch !== 'number') return undefined
      // Stopped meanwhile, or the reply took longer than the TTL (the key may already be gone): not acquired.
      if (stopped || performance.now() >= sentAt + ttlMs) {
        await runScript(redis, RELEASE_LEASE, [keys.lease(streamKey)], [leaseValue(nodeId, epoch)])
        return undefined
      }
      const lease = startLease(streamKey, epoch, sentAt)
      held.set(streamKey, lease)
      return lease
    },
    async owner(streamKey) {
      const value = await redis.get(keys.lease(streamKey))
      const parsed = value === null ? undefined : parseLeaseValue(value)
      return parsed && { streamKey, ...parsed }
    },
    async stop() {
      stopped = true
      const leases = [...held.values()]
      // A release that cannot reach Redis still ends the lease locally; the key then expires after its TTL.
      await Promise.all(leases.map((lease) => lease.release().catch(ignore)))
    },
  }
}

const ignore = () => undefined
