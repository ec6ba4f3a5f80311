import { Timestamp } from 'bson'
import type { OplogEntry, OplogOp } from '../types.js'

export interface Oplog {
  /** Commits one write: assigns its cluster time and wakes every waiter. */
  append(op: OplogOp, imagesRecorded: boolean): OplogEntry
  /** Last assigned cluster time (the server's operationTime / $clusterTime). */
  readonly clusterTime: Timestamp
  /** Oldest entry still kept, or undefined when nothing was ever written. */
  readonly first: OplogEntry | undefined
  /** Entries with seq > afterSeq, oldest first, at most `limit`. */
  readAfter(afterSeq: number, limit: number): OplogEntry[]
  /** Sequence number of the first entry whose ts is >= ts (or the next to be written). */
  seqAtOrAfter(ts: Timestamp): number
  /** Next seq to be assigned. */
  readonly nextSeq: number
  /** Resolves on the next append, or after `ms`; `signal` cancels the wait. */
  waitForAppend(ms: number, signal?: AbortSignal): Promise<void>
}

export interface OplogOptions {
  /** Entries kept; older ones are forgotten (resuming before them is "history lost"). */
  maxEntries: number
}

/** Cluster times: seconds since epoch, with an increment that orders writes within one second. */
function nextTimestamp(prev: Timestamp): Timestamp {
  const seconds = Math.floor(Date.now() / 1000)
  if (seconds > prev.high) return new Timestamp({ t: seconds, i: 1 })
  return new Timestamp({ t: prev.high, i: prev.low + 1 })
}

export function createOplog(options: OplogOptions): Oplog {
  const entries: OplogEntry[] = []
  let head = 0 // index in `entries` of the oldest kept entry
  let nextSeq = 1
  let clusterTime = new Timestamp({ t: Math.floor(Date.now() / 1000), i: 0 })
  let waiters: Array<() => void> = []

  const compact = () => {
    const excess = entries.length - head - options.maxEntries
    if (excess > 0) head += excess
    if (head > 4096 && head > entries.length / 2) {
      entries.splice(0, head)
      head = 0
    }
  }

  return {
    append(op, imagesRecorded) {
      clusterTime = nextTimestamp(clusterTime)
      const entry = { ...op, ts: clusterTime, wallTime: new Date(), seq: nextSeq++, imagesRecorded } as OplogEntry
      entries.push(entry)
      compact()
      const wake = waiters
      waiters = []
      for (const w of wake) w()
      return entry
    },
    get clusterTime() {
      return clusterTime
    },
    get first() {
      return entries[head]
    },
    get nextSeq() {
      return nextSeq
    },
    readAfter(afterSeq, limit) {
      const first = entries[head]
      if (!first) return []
      const start = head + Math.max(0, afterSeq + 1 - first.seq)
      return entries.slice(start, start + limit)
    },
    seqAtOrAfter(ts) {
      let lo = head
      let hi = entries.length
      while (lo < hi) {
        const mid = (lo + hi) >>> 1
        if (entries[mid].ts.compare(ts) < 0) lo = mid + 1
        else hi = mid
      }
      return lo < entries.length ? entries[lo].seq : nextSeq
    },
    waitForAppend(ms, signal) {
      return new Promise((resolve) => {
        let timer: NodeJS.Timeout | undefined
        const done = () => {
          if (timer) clearTimeout(timer)
          signal?.removeEventListener('abort', done)
          waiters = waiters.filter((w) => w !== done)
          resolve()
        }
        timer = setTimeout(done, ms)
        signal?.addEventListener('abort', done, { once: true })
        waiters.push(done)
      })
    },
  }
}
