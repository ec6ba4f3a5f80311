/**
 * One change stream cursor: a position in the oplog, read forward one entry at a time into batches.
 *
 * The cursor keeps only its position (the last oplog entry it has read) and at most a couple of events it has
 * already produced but not yet returned (one that did not fit the batch, the `invalidate` after a drop).
 * An empty getMore waits for the oplog to grow, up to maxTimeMS, and returns as soon as it has an event.
 */
import { calculateObjectSize, type Document, type Long, type Timestamp } from 'bson'
import type { CursorBatch, MongoCommandError, OplogEntry, ServerCursor } from '../types.js'
import { bsonEquals } from './bson-compare.js'
import { changeStreamFatal, cursorKilled, historyLost } from './errors.js'
import type { EventCache } from './event-cache.js'
import { buildInvalidate, invalidates, isExpandedOnly, isVisible, type EventOptions } from './events.js'
import type { Oplog } from './oplog.js'
import type { EventTransform } from './pipeline.js'
import type { ChangeStreamSpec } from './spec.js'
import {
  compareTimestamps,
  encodeToken,
  highWaterMarkAfter,
  highWaterMarkAt,
  tokenDocument,
  type ResumePoint,
} from './tokens.js'

/**
 * A reply holds at most 4 MB of documents (the first one always fits). MongoDB allows 16 MB; smaller replies keep
 * one lagging stream from holding up every other connection while its reply is built.
 */
const MAX_BATCH_BYTES = 4 * 1024 * 1024
/**
 * How much one reply may hold besides the byte limit. A consumer that lags finds a backlog at every getMore; MongoDB
 * fills each reply up to 16 MB, but here a reply is built synchronously, and one of 10,000 events would keep every
 * other connection waiting for tens of milliseconds. Replies are smaller instead: the client sees more batches, the
 * same events in the same order, and a postBatchResumeToken that is the last returned event's token.
 */
export interface BatchLimits {
  /** Events in one reply at most; a smaller `batchSize` from the client is honoured. */
  readonly events: number
  /** Milliseconds one reply may spend reading and building events; it then goes out with what it has. */
  readonly buildMs: number
  /** Events a reply takes (when there are that many) before its build time counts, so every reply makes progress. */
  readonly timedAfter: number
}

export const DEFAULT_BATCH_LIMITS: BatchLimits = { events: 1000, buildMs: 5, timedAfter: 64 }

/** getMore's wait when the client sets no maxTimeMS, as for MongoDB's awaitData cursors. */
const DEFAULT_AWAIT_MS = 1000
/** Oplog entries copied out per read; reads resume from the cursor's position. */
const READ_CHUNK = 256

export interface ChangeStreamCursorOptions {
  readonly id: Long
  readonly oplog: Oplog
  readonly spec: ChangeStreamSpec
  readonly transform: EventTransform
  readonly events: EventOptions
  readonly cache: EventCache
  /** Bounds on one reply; DEFAULT_BATCH_LIMITS when absent. */
  readonly limits?: BatchLimits
  /** Called once when the cursor is closed, exhausted or failed. */
  readonly onDone: () => void
}

export interface ChangeStreamCursor {
  readonly cursor: ServerCursor
  /** The aggregate's first batch: what is already there, without waiting. */
  firstBatch(batchSize: number): CursorBatch
  /** Fails the pending getMore, if any, and every later one with `error`. */
  interrupt(error: MongoCommandError): void
}

interface Output {
  /** What the client receives, or undefined when the pipeline filtered the event out. */
  readonly doc: Document | undefined
  readonly size: number
  /** The event's own resume token (before any user stage). */
  readonly token: string
  /** An invalidate: the stream ends once it is delivered. */
  readonly last: boolean
}

const maxToken = (a: string, b: string) => (a >= b ? a : b)

export function createChangeStreamCursor(options: ChangeStreamCursorOptions): ChangeStreamCursor {
  const { oplog, spec, transform, events, cache } = options
  const limits = options.limits ?? DEFAULT_BATCH_LIMITS
  const queue: Output[] = []
  let afterSeq: number
  let minTs: Timestamp | undefined
  let postBatchToken: string
  let lastRead: OplogEntry | undefined
  /** The last entry read when the oplog was last exhausted: the next token is at least a mark after it. */
  let coveredThrough: OplogEntry | undefined
  let state: 'open' | 'exhausted' | 'closed' | 'failed' = 'open'
  let failure: MongoCommandError | undefined
  /** Ends the wait of the pending getMore, if one is waiting. */
  let wake: (() => void) | undefined
  let tail: Promise<unknown> = Promise.resolve()

  const finish = (next: 'exhausted' | 'closed' | 'failed') => {
    if (state !== 'open') return
    state = next
    queue.length = 0
    options.onDone()
  }

  const fail = (error: unknown): never => {
    failure ??= error as MongoCommandError
    finish('failed')
    throw error
  }

  const produce = (event: Document, size: number, last: boolean) => {
    const token = (event._id as { _data: string })._data
    const doc = transform(event)
    if (doc && !bsonEquals(doc._id, event._id)) {
      throw changeStreamFatal(
        'Encountered an event whose _id field, which contains the resume token, was modified by the pipeline. ' +
          'Modifying the _id field of an event makes it impossible to resume the stream from that point. ' +
          'Only transformations that retain the unmodified _id field are allowed. ' +
          `Expected: { _id: { _data: "${token}" } } but found: { _id: ${JSON.stringify(doc._id) ?? 'missing'} }`,
      )
    }
    // Events a stage rewrote are measured again; untouched ones keep the size measured once for all cursors.
    queue.push({ doc, size: doc === event ? size : doc ? calculateObjectSize(doc) : 0, token, last })
  }

  const produceInvalidate = (entry: OplogEntry) => {
    const doc = buildInvalidate(entry)
    produce(doc, calculateObjectSize(doc), true)
  }

  const read = (entry: OplogEntry) => {
    afterSeq = entry.seq
    lastRead = entry
    if (minTs && compareTimestamps(entry.ts, minTs) < 0) return
    if (!isVisible(entry, spec.scope)) return
    if (!spec.showExpandedEvents && isExpandedOnly(entry)) return
    const built = cache.event(entry, events)
    produce(built.doc, built.size, false)
    if (invalidates(entry, spec.scope)) produceInvalidate(entry)
  }

  /** The reply for a batch: its documents and the position the client can resume from. */
  const reply = (docs: Document[], exhausted: boolean): CursorBatch => {
    if (coveredThrough) {
      const mark = encodeToken(highWaterMarkAfter(coveredThrough.ts, coveredThrough.seq))
      postBatchToken = maxToken(postBatchToken, mark)
      coveredThrough = undefined
    }
    return { docs, postBatchResumeToken: { _data: postBatchToken }, exhausted }
  }

  /**
   * Fills one batch from queued events and the oplog, without waiting; true once the stream has ended. A batch is
   * full at `limit` events (the client's batchSize or the event cap), or when its time is up once it holds
   * `timedAfter` events.
   */
  const collect = (docs: Document[], requested: number): boolean => {
    const limit = Math.min(requested, limits.events)
    const timedAfter = Math.max(1, limits.timedAfter)
    const started = performance.now()
    const full = () => docs.length >= limit || (docs.length >= timedAfter && performance.now() - started >= limits.buildMs)
    let bytes = 0
    let entries: OplogEntry[] = []
    let next = 0
    for (;;) {
      while (queue.length > 0) {
        const out = queue[0]
        if (out.doc && (full() || (docs.length > 0 && bytes + out.size > MAX_BATCH_BYTES))) return false
        queue.shift()
        if (out.doc || out.last) {
          // Anything returned was read after the last high-water mark, so its token sorts after it.
          postBatchToken = out.token
          coveredThrough = undefined
        }
        if (out.doc) {
          docs.push(out.doc)
          bytes += out.size
        }
        if (out.last) {
          finish('exhausted')
          return true
        }
      }
      if (full()) return false
      if (next >= entries.length) {
        const dropped = oplog.lastDropped
        if (dropped && dropped.seq > afterSeq) throw historyLost()
        entries = oplog.readAfter(afterSeq, READ_CHUNK)
        next = 0
        if (entries.length === 0) {
          // Everything up to the last entry read is covered: the batch's token becomes a high-water mark.
          if (lastRead) coveredThrough = lastRead
          return false
        }
      }
      read(entries[next++])
    }
  }

  const collectOrFail = (docs: Document[], limit: number): boolean => {
    try {
      return collect(docs, limit)
    } catch (error) {
      return fail(error)
    }
  }

  const getMore = async (batchSize: number | undefined, maxTimeMS: number | undefined): Promise<CursorBatch> => {
    const limit = batchSize && batchSize > 0 ? batchSize : Infinity
    const deadline = Date.now() + (maxTimeMS && maxTimeMS > 0 ? maxTimeMS : DEFAULT_AWAIT_MS)
    let timer: NodeJS.Timeout | undefined
    let expired = false
    try {
      for (;;) {
        if (state === 'failed') throw failure
        if (state === 'closed') throw cursorKilled(options.id.toString())
        if (state === 'exhausted') return reply([], true)
        const docs: Document[] = []
        const ended = collectOrFail(docs, limit)
        const remaining = deadline - Date.now()
        if (docs.length > 0 || ended || expired || remaining <= 0) return reply(docs, ended)
        // One timer for the whole getMore; each append wakes the cursor to read what was added.
        timer ??= setTimeout(() => {
          expired = true
          wake?.()
        }, remaining)
        await new Promise<void>((resolve) => {
          const cancel = oplog.onNextAppend(resolve)
          wake = () => {
            cancel()
            resolve()
          }
        })
        wake = undefined
      }
    } finally {
      clearTimeout(timer)
      wake = undefined
    }
  }

  const startAt = (ts: Timestamp, token: ResumePoint) => {
    const dropped = oplog.lastDropped
    if (dropped && compareTimestamps(dropped.ts, ts) >= 0) throw historyLost()
    afterSeq = oplog.seqAtOrAfter(ts) - 1
    minTs = ts
    postBatchToken = encodeToken(token)
  }

  const resumeAfterEvent = (point: ResumePoint) => {
    const dropped = oplog.lastDropped
    if (dropped && compareTimestamps(dropped.ts, point.ts) >= 0) throw historyLost()
    const entry = oplog.at(point.seq)
    const found =
      entry !== undefined &&
      compareTimestamps(entry.ts, point.ts) === 0 &&
      isVisible(entry, spec.scope) &&
      (!point.fromInvalidate || invalidates(entry, spec.scope))
    if (!found) {
      throw changeStreamFatal(
        `cannot resume stream; the resume token was not found. ${JSON.stringify(tokenDocument(point))}`,
      )
    }
    afterSeq = entry.seq
    lastRead = entry
    postBatchToken = encodeToken(point)
    // Resuming after the event that ended the stream ends it again; starting after its invalidate does not.
    if (!point.fromInvalidate && invalidates(entry, spec.scope)) produceInvalidate(entry)
  }

  const start = spec.start
  switch (start.kind) {
    case 'now': {
      // A new stream starts one tick after the last write, so it reports nothing already committed.
      afterSeq = oplog.nextSeq - 1
      postBatchToken = encodeToken(highWaterMarkAfter(oplog.clusterTime, afterSeq))
      break
    }
    case 'startAtOperationTime':
      startAt(start.ts, highWaterMarkAt(start.ts, oplog.seqAtOrAfter(start.ts) - 1))
      break
    case 'resumeAfter':
    case 'startAfter':
      if (start.point.kind === 'highWaterMark') startAt(start.point.ts, start.point)
      else resumeAfterEvent(start.point)
      break
  }

  const cursor: ServerCursor = {
    id: options.id,
    ns: spec.cursorNs,
    changeStream: true,
    getMore(batchSize, maxTimeMS) {
      // getMores on one cursor run one after the other, as the server serializes them.
      const run = tail.then(() => getMore(batchSize, maxTimeMS))
      tail = run.catch(() => undefined)
      return run
    },
    close() {
      finish('closed')
      wake?.()
    },
  }

  return {
    cursor,
    firstBatch(batchSize) {
      const docs: Document[] = []
      return reply(docs, collectOrFail(docs, batchSize))
    },
    interrupt(error) {
      if (state !== 'open') return
      failure = error
      finish('failed')
      wake?.()
    },
  }
}
