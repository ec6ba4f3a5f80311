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

/**
 * Opens a change stream at `from` and proves it can be read before returning: a position older than MongoDB's
 * retained history fails here (see {@link isHistoryLost}), never by jumping to "now". The one reader of past
 * changes, shared by subscriber catch-up and cluster gap fill.
 */
export async function openHistory(options: HistoryOptions): Promise<History> {
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
  const pastEnd = (p: Position) => {
    const order = comparePositions(p, options.until)
    return options.inclusive ? order > 0 : order >= 0
  }
  const reached = (p: Position) => comparePositions(p, options.until) >= 0
  let closing = false

  return {
    async read(onEvent) {
      try {
        let raw = first
        for (;;) {
          if (raw) {
            const position = positionFromEvent(raw as Document & { _id: { _data: string } })
            if (pastEnd(position)) return 'reached'
            if (INVALIDATING_EVENTS.has(raw.operationType as string)) {
              await onEvent(raw)
              return 'invalidated'
            }
            if (comparePositions(position, options.from) > 0 && !(await onEvent(raw))) return 'stopped'
            if (reached(position)) return 'reached'
          } else if (stream.closed) {
            // A cursor MongoDB closed without an invalidating event in range: nothing more will come.
            return closing ? 'stopped' : 'invalidated'
          } else if (stream.resumeToken && reached(positionFromToken(stream.resumeToken as { _data: string }))) {
            return 'reached'
          }
          raw = await stream.tryNext()
        }
      } finally {
        await stream.close().catch(() => undefined)
      }
    },
    async close() {
      closing = true
      await stream.close().catch(() => undefined)
    },
  }
}
