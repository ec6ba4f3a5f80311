import type { Collection, Document } from 'mongodb'

export interface PacedSchedule {
  /** Sequence number of the first document. */
  readonly firstSeq: number
  readonly count: number
  /** Documents per second. */
  readonly rate: number
  /** Send nothing more this long after the start (a server that falls behind cannot stretch a phase without bound). */
  readonly deadlineMs?: number
}

export interface PacedResult {
  readonly sent: number
  readonly failed: number
  /** Epoch ms at the first and after the last write. */
  readonly startedAt: number
  readonly endedAt: number
  /** How late, at worst, a write left against its schedule. */
  readonly maxLagMs: number
}

/** Batches in flight at once; past it the writer falls behind its schedule (reported as lag). */
const MAX_IN_FLIGHT = 64
const MAX_BATCH = 256

/**
 * Inserts `count` documents at `rate` per second on an open-loop schedule. Each document is built (and so stamped)
 * just before it is sent; writes due in the same millisecond go out as one insertMany.
 */
export function pacedInserts(
  collection: Collection,
  build: (seq: number, now: number) => Document,
  { firstSeq, count, rate, deadlineMs }: PacedSchedule,
): Promise<PacedResult> {
  let sent = 0
  let failed = 0
  let inFlight = 0
  let maxLagMs = 0
  const start = performance.now()
  const startedAt = Date.now()
  return new Promise((resolve) => {
    let stopped = false
    let done = false
    const finish = () => {
      if (done) return
      done = true
      resolve({ sent, failed, startedAt, endedAt: Date.now(), maxLagMs })
    }
    const send = (n: number) => {
      const now = Date.now()
      const docs: Document[] = []
      for (let i = 0; i < n; i++) docs.push(build(firstSeq + sent + i, now))
      maxLagMs = Math.max(maxLagMs, performance.now() - (start + (sent * 1000) / rate))
      sent += n
      inFlight++
      const write = n === 1 ? collection.insertOne(docs[0]) : collection.insertMany(docs, { ordered: true })
      write
        .catch(() => (failed += n))
        .finally(() => {
          inFlight--
          if ((sent === count || stopped) && inFlight === 0) finish()
        })
    }
    const tick = () => {
      const now = performance.now()
      const due = Math.min(count, Math.floor(((now - start) * rate) / 1000) + 1)
      if (deadlineMs !== undefined && now - start > deadlineMs) {
        stopped = true
        if (inFlight === 0) finish()
        return
      }
      while (sent < due && inFlight < MAX_IN_FLIGHT) send(Math.min(MAX_BATCH, due - sent))
      if (sent < count) setTimeout(tick, 1)
    }
    if (count === 0) finish()
    else tick()
  })
}
