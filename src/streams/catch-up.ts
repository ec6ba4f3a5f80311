import type { Collection as MongoCollection, Document } from 'mongodb'
import { cursorExpired, GatewayError, internalError, streamInvalidated } from '../errors.js'
import { isHistoryLost, openHistory } from '../mongo/history.js'
import type { Position } from '../mongo/position.js'
import type { FilterEvaluator } from './dispatcher.js'
import type { CompiledFilter } from './filters/compiler.js'
import type { SharedHistory } from './shared-history.js'
import type { Collection, Delivery, EventParser } from './stream-event.js'

export interface CatchUpOptions {
  readonly mongoCollection: MongoCollection
  readonly collection: Collection
  readonly filter: CompiledFilter
  /** The filter's own pipeline: a catch-up read alone filters in MongoDB. */
  readonly pipeline: Document[]
  readonly evaluate: FilterEvaluator
  /** Shared event parser (see createEventCache). */
  readonly parse: EventParser
  /** Deliver every matching event strictly after `from`... */
  readonly from: Position
  /** ...up to and including `until` (where the live stream takes over). */
  readonly until: Position
  /** The collection's shared history reads: joined when given, the catch-up reads alone otherwise. */
  readonly share?: SharedHistory
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

/** A catch-up with its own MongoDB change stream, filtered there. */
async function openAlone(options: CatchUpOptions, from: Position): Promise<CatchUp> {
  const { parse } = options
  let history
  try {
    history = await openHistory({
      collection: options.mongoCollection,
      pipeline: options.pipeline,
      from,
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

/**
 * Opens a subscriber's read of history at `from`: a cursor older than the retained history fails here with
 * CURSOR_EXPIRED, never by jumping to "now". With `share`, it joins a read other subscribers catching up from
 * nearby positions make (one change stream for all of them), and goes on alone from where that read left it if it
 * cannot keep up.
 */
export async function openCatchUp(options: CatchUpOptions): Promise<CatchUp> {
  if (!options.share) return openAlone(options, options.from)
  let part
  try {
    part = await options.share.join({ filter: options.filter, from: options.from, until: options.until })
  } catch (error) {
    throw toGatewayError(error)
  }
  let alone: CatchUp | undefined
  let closed = false
  return {
    async run(deliver) {
      const end = await part.run(deliver)
      if (end.kind === 'invalidated') throw streamInvalidated()
      if (end.kind === 'reached' || closed) return
      alone = await openAlone(options, end.from)
      if (closed) return alone.close()
      await alone.run(deliver)
    },
    async close() {
      closed = true
      part.close()
      await alone?.close()
    },
  }
}
