import type { Collection as MongoCollection, Document } from 'mongodb'
import { cursorExpired, GatewayError, internalError, streamInvalidated } from '../errors.js'
import { isHistoryLost, openHistory } from '../mongo/history.js'
import type { Position } from '../mongo/position.js'
import type { FilterEvaluator } from './dispatcher.js'
import type { Collection, Delivery, EventParser } from './stream-event.js'

export interface CatchUpOptions {
  readonly mongoCollection: MongoCollection
  readonly collection: Collection
  /** The filter's own pipeline: catch-up filters in MongoDB. */
  readonly pipeline: Document[]
  readonly evaluate: FilterEvaluator
  /** Shared event parser (see createEventCache). */
  readonly parse: EventParser
  /** Deliver every matching event strictly after `from`... */
  readonly from: Position
  /** ...up to and including `until` (where the live stream takes over). */
  readonly until: Position
}

export interface CatchUp {
  /**
   * Reads the history and hands each delivery to `deliver` (awaiting it: that is the backpressure). Throws
   * STREAM_INVALIDATED when the collection was dropped or renamed within the range.
   */
  run(deliver: (delivery: Delivery) => Promise<boolean>): Promise<void>
  close(): Promise<void>
}

export function toGatewayError(error: unknown): GatewayError {
  if (error instanceof GatewayError) return error
  if (isHistoryLost(error)) return cursorExpired()
  return internalError()
}

/**
 * Opens a subscriber's read of history at `from`: a cursor older than the retained history fails here with
 * CURSOR_EXPIRED, never by jumping to "now".
 */
export async function openCatchUp(options: CatchUpOptions): Promise<CatchUp> {
  const { parse } = options
  let history
  try {
    history = await openHistory({
      collection: options.mongoCollection,
      pipeline: options.pipeline,
      from: options.from,
      until: options.until,
      inclusive: true,
    })
  } catch (error) {
    throw toGatewayError(error)
  }
  return {
    async run(deliver) {
      const end = await history.read(async (raw) => {
        const event = parse(options.collection, raw)
        const delivery = options.evaluate(event)
        return delivery ? deliver(delivery) : true
      })
      if (end === 'invalidated') throw streamInvalidated()
    },
    close: () => history.close(),
  }
}
