import { ErrorCode, gatewayErrorFromCode, internalError } from '../errors.js'
import type { StreamMessage } from '../fanout/types.js'
import { comparePositions, type Position } from '../mongo/position.js'
import { createDispatcher, type Member } from './dispatcher.js'
import { INVALIDATING_EVENTS, type Collection, type EventParser } from './stream-event.js'

export interface StreamObserver {
  onEvent?(streamKey: string, lagMs: number): void
  onDeliveries?(collection: Collection, count: number): void
  onResume?(streamKey: string): void
  onStateChange?(streamKey: string, state: string): void
}

/**
 * The receiving half of a shared stream on one node: applies stream messages in order, each event once (by
 * position), to the local subscribers.
 */
export interface StreamConsumer {
  /** Applies one message; events at or before the current position are duplicates and are dropped. */
  apply(message: StreamMessage): void
  join(member: Member): () => void
  /** Position of the last message applied; every later delivery is strictly after it. */
  position(): Position | undefined
  /** Moves the position forward without an event (a starting point, a high-water mark). */
  advance(position: Position): void
  /** Ends every subscriber with `code` (STOPPED streams use INTERNAL_SERVER_ERROR). */
  end(code: ErrorCode): void
  readonly ended: boolean
  readonly subscribers: number
  readonly eventsReceived: number
  readonly lastEventAt: Date | null
  readonly lagMs: number | null
}

export function createStreamConsumer(options: {
  readonly key: string
  readonly collection: Collection
  readonly observer?: StreamObserver
  readonly onEnded?: (code: ErrorCode) => void
  readonly parse: EventParser
}): StreamConsumer {
  const { key, collection, observer } = options
  const dispatcher = createDispatcher()
  const { parse } = options
  let position: Position | undefined
  let eventsReceived = 0
  let lastEventAt: Date | null = null
  let lagMs: number | null = null
  let ended = false

  const consumer: StreamConsumer = {
    apply(message) {
      if (ended) return
      if (message.kind === 'position') return consumer.advance(message.position)
      if (message.kind === 'end') return consumer.end(message.code)
      // Not kept for later readers: see createEventCache.
      const event = parse(collection, message.raw, false)
      if (position && comparePositions(event.position, position) <= 0) return
      position = event.position
      eventsReceived++
      lastEventAt = new Date()
      lagMs = event.wallTime ? Math.max(0, Date.now() - event.wallTime.getTime()) : null
      observer?.onEvent?.(key, lagMs ?? 0)
      if (INVALIDATING_EVENTS.has(event.operationType)) return consumer.end(ErrorCode.STREAM_INVALIDATED)
      const delivered = dispatcher.dispatch(event)
      if (delivered > 0) observer?.onDeliveries?.(collection, delivered)
    },
    join: (member) => dispatcher.add(member),
    position: () => position,
    advance(next) {
      if (!position || comparePositions(next, position) > 0) position = next
    },
    end(code) {
      if (ended) return
      ended = true
      dispatcher.failAll(code === ErrorCode.INTERNAL_SERVER_ERROR ? internalError() : gatewayErrorFromCode(code))
      options.onEnded?.(code)
    },
    get ended() {
      return ended
    },
    get subscribers() {
      return dispatcher.size
    },
    get eventsReceived() {
      return eventsReceived
    },
    get lastEventAt() {
      return lastEventAt
    },
    get lagMs() {
      return lagMs
    },
  }
  return consumer
}
