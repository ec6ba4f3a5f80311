import { Timestamp, type UUID } from 'bson'
import type { OplogEntry, OplogOp, TransactionInfo } from '../types.js'

export interface Oplog {
  /** Commits one write: assigns its cluster time and wakes every waiter. */
  append(op: OplogOp, imagesRecorded: boolean, uuid?: UUID): OplogEntry
  /** Commits a transaction's writes at one cluster time, in statement order, and wakes every waiter once. */
  appendTransaction(ops: ReadonlyArray<{ op: OplogOp; imagesRecorded: boolean; uuid?: UUID }>, txn: TransactionInfo): OplogEntry[]
  /** Last assigned cluster time (the server's operationTime / $clusterTime). */
  readonly clusterTime: Timestamp
  /** Oldest entry still kept, or undefined when nothing was ever written. */
  readonly first: OplogEntry | undefined
  /** Newest entry forgotten to bound the oplog's size, or undefined while nothing was forgotten. */
  readonly lastDropped: { readonly seq: number; readonly ts: Timestamp } | undefined
  /** Entries with seq > afterSeq, oldest first, at most `limit`. */
  readAfter(afterSeq: number, limit: number): OplogEntry[]
  /** The kept entry with this seq, if any. */
  at(seq: number): OplogEntry | undefined
  /** Sequence number of the first entry whose ts is >= ts (or the next to be written). */
  seqAtOrAfter(ts: Timestamp): number
  /** Next seq to be assigned. */
  readonly nextSeq: number
  /** Resolves on the next append, or after `ms`; `signal` cancels the wait. */
  waitForAppend(ms: number, signal?: AbortSignal): Promise<void>
  /** Calls `listener` once, on the next append; the returned function cancels that. Cheaper than waitForAppend. */
  onNextAppend(listener: () => void): () => void
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

/**
 * The logged form of `op`. Copied with Object.assign and completed with plain stores: on Node 20 an object spread
 * followed by more properties, or Object.assign from a temporary object literal, is several times slower.
 */
function createEntry(op: OplogOp, ts: Timestamp, wallTime: Date, seq: number, imagesRecorded: boolean, uuid: UUID | undefined, txn?: TransactionInfo): OplogEntry {
  const entry: Record<string, unknown> = Object.assign({}, op)
  entry.ts = ts
  entry.wallTime = wallTime
  entry.seq = seq
  entry.imagesRecorded = imagesRecorded
  if (txn) entry.txn = txn
  entry.uuid = uuid
  return entry as OplogEntry
}

export function createOplog(options: OplogOptions): Oplog {
  const maxEntries = Math.max(1, Math.floor(options.maxEntries))
  const entries: OplogEntry[] = []
  let head = 0 // index in `entries` of the oldest kept entry
  let nextSeq = 1
  let clusterTime = new Timestamp({ t: Math.floor(Date.now() / 1000), i: 0 })
  let lastDropped: { seq: number; ts: Timestamp } | undefined
  // A Set keeps adding and removing waiters O(1): hundreds of cursors wait at once.
  let waiters = new Set<() => void>()

  const compact = () => {
    const excess = entries.length - head - maxEntries
    if (excess > 0) {
      head += excess
      const dropped = entries[head - 1]
      lastDropped = { seq: dropped.seq, ts: dropped.ts }
    }
    if (head > 4096 && head > entries.length / 2) {
      entries.splice(0, head)
      head = 0
    }
  }

  const wakeAll = () => {
    const wake = waiters
    waiters = new Set()
    for (const w of wake) w()
  }

  return {
    append(op, imagesRecorded, uuid) {
      clusterTime = nextTimestamp(clusterTime)
      const entry = createEntry(op, clusterTime, new Date(), nextSeq++, imagesRecorded, uuid)
      entries.push(entry)
      compact()
      wakeAll()
      return entry
    },
    appendTransaction(ops, txn) {
      if (ops.length === 0) return []
      clusterTime = nextTimestamp(clusterTime)
      const wallTime = new Date()
      const added = ops.map(({ op, imagesRecorded, uuid }) => {
        const entry = createEntry(op, clusterTime, wallTime, nextSeq++, imagesRecorded, uuid, txn)
        entries.push(entry)
        return entry
      })
      compact()
      wakeAll()
      return added
    },
    get clusterTime() {
      return clusterTime
    },
    get first() {
      return entries[head]
    },
    get lastDropped() {
      return lastDropped
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
    at(seq) {
      const first = entries[head]
      if (!first || seq < first.seq) return undefined
      return entries[head + (seq - first.seq)]
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
        if (signal?.aborted) return resolve()
        const done = () => {
          clearTimeout(timer)
          signal?.removeEventListener('abort', done)
          waiters.delete(done)
          resolve()
        }
        const timer = setTimeout(done, Math.max(0, ms))
        signal?.addEventListener('abort', done, { once: true })
        waiters.add(done)
      })
    },
    onNextAppend(listener) {
      // A fresh function per registration, so the same listener can be registered twice and cancelled once.
      const once = () => listener()
      waiters.add(once)
      return () => void waiters.delete(once)
    },
  }
}
