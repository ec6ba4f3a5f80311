import { MongoError, type Collection, type Document } from 'mongodb'
import { startOptionsFor } from './change-source.js'
import { comparePositions, positionFromEvent, positionFromToken, type Position } from './position.js'

/** Change events that end a collection's history: the stream is closed after them. */
export const INVALIDATING_EVENTS: ReadonlySet<string> = new Set(['drop', 'rename', 'dropDatabase', 'invalidate'])

const HISTORY_LOST = 286

/** MongoDB no longer holds the history a stream was asked to start from (ChangeStreamHistoryLost). */
export const isHistoryLost = (error: unknown): boolean => error instanceof MongoError && error.code === HISTORY_LOST

export interface HistoryOptions {
  readonly collection: Collection
  /** `$match` stages selecting the data events wanted; invalidating events are always read, whatever they say. */
  readonly pipeline: readonly Document[]
  /** Read what was committed strictly after this position... */
  readonly from: Position
  /** ...up to this position: including it (`inclusive`) or stopping before it. */
  readonly until: Position
  readonly inclusive: boolean
  readonly batchSize?: number
}

/** How a read ended. */
export type HistoryEnd = 'reached' | 'invalidated' | 'stopped'

export interface History {
  /**
   * Hands each event in range to `onEvent` (awaited: that is the backpressure; `false` stops the read). An
   * invalidating event is handed over too, and ends the read with `invalidated`.
   */
  read(onEvent: (raw: Document) => Promise<boolean> | boolean): Promise<HistoryEnd>
  close(): Promise<void>
}

/**
 * The pipeline a history read sends to MongoDB: the caller's stages, or an invalidating event. Without the second
 * branch, a filter on `operationType` would hide the drop or rename that closes the cursor, and the reader could
 * not tell "nothing yet" from "nothing ever again".
 */
export function historyPipeline(pipeline: readonly Document[]): Document[] {
  if (pipeline.length === 0) return []
  const conditions = pipeline.map((stage) => stage.$match as Document)
  return [{ $match: { $or: [{ operationType: { $in: [...INVALIDATING_EVENTS].sort() } }, { $and: conditions }] } }]
}

/** What a history cursor has next: an event, or (none waiting) how far the read has got, or the end of the cursor. */
export type HistoryStep =
  | { readonly kind: 'event'; readonly raw: Document; readonly position: Position }
  | { readonly kind: 'idle'; readonly position: Position | undefined }
  | { readonly kind: 'closed' }

/** A change stream over past changes, read one step at a time, with no end of its own. */
export interface HistoryCursor {
  next(): Promise<HistoryStep>
  close(): Promise<void>
}

export interface HistoryCursorOptions {
  readonly collection: Collection
  /** As {@link HistoryOptions.pipeline}. */
  readonly pipeline: readonly Document[]
  /** Where the stream starts: the event at this position itself may still come first. */
  readonly from: Position
  readonly batchSize?: number
}

/**
 * Opens a change stream at `from` and proves it can be read before returning: a position older than MongoDB's
 * retained history fails here (see {@link isHistoryLost}), never by jumping to "now".
 */
export async function openHistoryCursor(options: HistoryCursorOptions): Promise<HistoryCursor> {
  const stream = options.collection.watch(historyPipeline(options.pipeline), {
    fullDocument: 'whenAvailable',
    fullDocumentBeforeChange: 'whenAvailable',
    maxAwaitTimeMS: 200,
    batchSize: options.batchSize ?? 500,
    ...startOptionsFor(options.from),
  })
  let first: Document | null
  try {
    first = await stream.tryNext()
  } catch (error) {
    await stream.close().catch(() => undefined)
    throw error
  }
  const step = (raw: Document | null): HistoryStep => {
    if (raw) return { kind: 'event', raw, position: positionFromEvent(raw as Document & { _id: { _data: string } }) }
    if (stream.closed) return { kind: 'closed' }
    return { kind: 'idle', position: stream.resumeToken ? positionFromToken(stream.resumeToken as { _data: string }) : undefined }
  }
  let pending: HistoryStep | undefined = step(first)
  return {
    async next() {
      const out = pending ?? step(await stream.tryNext())
      pending = undefined
      return out
    },
    close: () => stream.close().catch(() => undefined),
  }
}

/**
 * Opens a read of the history between `from` and `until` (see {@link openHistoryCursor}: an expired `from` fails
 * here). The one reader of past changes, shared by subscriber catch-up and cluster gap fill.
 */
export async function openHistory(options: HistoryOptions): Promise<History> {
  const cursor = await openHistoryCursor(options)
  const pastEnd = (p: Position) => {
    const order = comparePositions(p, options.until)
    return options.inclusive ? order > 0 : order >= 0
  }
  const reached = (p: Position) => comparePositions(p, options.until) >= 0
  let closing = false

  return {
    async read(onEvent) {
      try {
        for (;;) {
          const step = await cursor.next()
          if (step.kind === 'event') {
            if (pastEnd(step.position)) return 'reached'
            if (INVALIDATING_EVENTS.has(step.raw.operationType as string)) {
              await onEvent(step.raw)
              return 'invalidated'
            }
            if (comparePositions(step.position, options.from) > 0 && !(await onEvent(step.raw))) return 'stopped'
            if (reached(step.position)) return 'reached'
          } else if (step.kind === 'closed') {
            // A cursor MongoDB closed without an invalidating event in range: nothing more will come.
            return closing ? 'stopped' : 'invalidated'
          } else if (step.position && reached(step.position)) {
            return 'reached'
          }
        }
      } finally {
        await cursor.close()
      }
    },
    async close() {
      closing = true
      await cursor.close()
    },
  }
}
