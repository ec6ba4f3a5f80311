/** Frees what {@link KeyedLimit.acquire} took. Calling it more than once frees once. */
export type Release = () => void

/** At most `max` holders per key (a client address, a tenant). */
export interface KeyedLimit {
  /** Takes a slot for `key`, or returns undefined when `key` already holds `max`. */
  acquire(key: string): Release | undefined
  /** Slots `key` holds now. */
  held(key: string): number
  /** Keys holding at least one slot (the map never keeps a key at zero). */
  keys(): number
}

export function createKeyedLimit(max: number): KeyedLimit {
  if (!Number.isSafeInteger(max) || max < 1) throw new TypeError('limit must be a positive integer')
  const counts = new Map<string, number>()
  return {
    acquire(key) {
      const count = counts.get(key) ?? 0
      if (count >= max) return undefined
      counts.set(key, count + 1)
      let released = false
      return () => {
        if (released) return
        released = true
        const left = (counts.get(key) ?? 1) - 1
        if (left > 0) counts.set(key, left)
        else counts.delete(key)
      }
    },
    held: (key) => counts.get(key) ?? 0,
    keys: () => counts.size,
  }
}

/** A token bucket: holds up to `burst` tokens, refilled continuously at `ratePerSecond`; starts full. */
export interface TokenBucket {
  /** Takes one token; false (taking nothing) when the bucket is empty. */
  take(): boolean
}

export function createTokenBucket(opts: { ratePerSecond: number; burst: number; now?: () => number }): TokenBucket {
  const { ratePerSecond, burst } = opts
  if (!(ratePerSecond > 0) || !(burst >= 1)) throw new TypeError('rate must be positive and burst at least 1')
  const now = opts.now ?? (() => performance.now())
  let tokens = burst
  let last = now()
  return {
    take() {
      const at = now()
      tokens = Math.min(burst, tokens + ((at - last) / 1000) * ratePerSecond)
      last = at
      if (tokens < 1) return false
      tokens -= 1
      return true
    },
  }
}
