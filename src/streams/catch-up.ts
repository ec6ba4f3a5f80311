import type { Collection as MongoCollection, Document } from 'mongodb'
import { MongoError } from 'mongodb'
import { cursorExpired, GatewayError, internalError } from '../errors.js'
import { startOptionsFor } from '../mongo/change-source.js'
import { comparePositions, positionFromEvent, positionFromToken, type Position } from '../mongo/position.js'
import type { FilterEvaluator } from './dispatcher.js'
import { INVALIDATING_EVENTS, parseStreamEvent, type Collection, type Delivery, type EventParser } from './stream-event.js'

export interface CatchUpOptions {
  readonly mongoCollection: MongoCollection
  readonly collection: Collection
  /** The filter's own pipeline: catch-up filters in MongoDB. */
  readonly pipeline: Document[]
  readonly evaluate: FilterEvaluator
  /** Shared event parser (see createEventCache). */
  readonly parse?: EventParser
  /** Deliver every matching event strictly after `from`... */
  readonly from: Position
  /** ...up to and including `until` (where the live stream takes over). */
  readonly until: Position
}

export interface CatchUp {
  /** Reads the history and hands each delivery to `deliver` (awaiting it: that is the backpressure). */
  run(deliver: (delivery: Delivery) => Promise<boolean>): Promise<void>
  close(): Promise<void>
}

const HISTORY_LOST = 286

export function toGatewayError(error: unknown): GatewayError {
  if (error instanceof GatewayError) return error
  if (error instanceof MongoError && error.code === HISTORY_LOST) return cursorExpired()
  return internalError()
}

/**
 * Opens a change stream at `from` and proves it can be read (MongoDB still holds that history) before returning:
 * a cursor older than the retained history fails here with CURSOR_EXPIRED, never by jumping to "now".
 */
export async function openCatchUp(options: CatchUpOptions): Promise<CatchUp> {
  const stream = options.mongoCollection.watch(options.pipeline, {
    fullDocument: 'whenAvailable',
    fullDocumentBeforeChange: 'whenAvailable',
    maxAwaitTimeMS: 200,
    batchSize: 500,
    ...startOptionsFor(options.from),
  })
  let first: Document | null
  try {
    first = await stream.tryNext()
  } catch (error) {
    await stream.close().catch(() => undefined)
    throw toGatewayError(error)
  }
  const reached = (p: Position) => comparePositions(p, options.until) >= 0

  return {
    async run(deliver) {
      try {
        let event = first
        for (;;) {
          if (event) {
            const position = positionFromEvent(event as Document & { _id: { _data: string } })
            if (comparePositions(position, options.until) > 0 || INVALIDATING_EVENTS.has(event.operationType as string)) return
            if (comparePositions(position, options.from) > 0) {
              const delivery = options.evaluate((options.parse ?? parseStreamEvent)(options.collection, event))
              if (delivery && !(await deliver(delivery))) return
            }
            if (reached(position)) return
          } else if (stream.resumeToken && reached(positionFromToken(stream.resumeToken as { _data: string }))) {
            return
          }
          event = await stream.tryNext()
        }
      } finally {
        await stream.close().catch(() => undefined)
      }
    },
    close: () => stream.close().catch(() => undefined),
  }
}
