import { setImmediate as turn } from 'node:timers/promises'
import type { Collection as MongoCollection } from 'mongodb'
import { INVALIDATING_EVENTS, openHistoryCursor, type HistoryCursor } from '../mongo/history.js'
import { comparePositions, type Position } from '../mongo/position.js'
import { createDispatcher, type Dispatcher, type Member } from './dispatcher.js'
import type { CompiledFilter } from './filters/compiler.js'
import type { Collection, Delivery, EventParser } from './stream-event.js'

/** One subscriber's part of a shared read: what it wants, and what the read has left for it so far. */
export interface HistoryShareRequest {
  readonly filter: CompiledFilter
  /** Every matching event strictly after `from`, up to and including `until`. */
  readonly from: Position
  readonly until: Position
}

/** How a subscriber's part of a shared read goes on from where the shared read left it. */
export type HistoryHandOff =
  /** Everything up to `until` was handed over. */
  | { readonly kind: 'reached' }
  /** The collection was dropped or renamed in range. */
  | { readonly kind: 'invalidated' }
  /** The shared read could not keep this subscriber: read the rest alone, strictly after `from`. */
  | { readonly kind: 'alone'; readonly from: Position }

export interface HistoryShare {
  /** Hands each matching delivery to `deliver` in order (awaited: the backpressure); `false` stops. */
  run(deliver: (delivery: Delivery) => Promise<boolean>): Promise<HistoryHandOff>
  close(): void
}

export interface SharedHistory {
  /**
   * Joins a read of the collection's history that has not passed `from` yet, or starts one there. Rejects (as
   * MongoDB did) when a new read cannot start at `from`, e.g. because that history is gone.
   */
  join(request: HistoryShareRequest): Promise<HistoryShare>
  /** Reads open now (each one MongoDB change stream). */
  readonly reads: number
}

export interface SharedHistoryOptions {
  readonly mongoCollection: MongoCollection
  readonly collection: Collection
  readonly parse: EventParser
  /** Deliveries held per subscriber that does not take them; past it the subscriber reads on alone. */
  readonly holdLimit: number
  /** Events handed out between two turns of the event loop. Default 64. */
  readonly eventsPerTurn?: number
}

interface Part extends Member {
  readonly request: HistoryShareRequest
  readonly held: Delivery[]
  /** Position of the last event handed to this part (held or delivered), or its `from`. */
  last: Position
  end?: HistoryHandOff | { readonly kind: 'failed'; readonly error: unknown }
  wake?: () => void
  leave?: () => void
}

interface Read {
  /** Position of the last event read, or the read's start: a subscriber starting at or after it can join. */
  position: Position
  readonly dispatcher: Dispatcher
  readonly parts: Set<Part>
  /** The cursor, once open; undefined while it opens, null once the read ended. */
  cursor: HistoryCursor | undefined | null
}

/**
 * One read of a collection's history shared by every subscriber catching up from nearby positions, like the live
 * shared stream: each event is read from MongoDB once and dispatched (the same filter index as live delivery) to
 * every subscriber whose range holds it. Each subscriber takes its deliveries at its own pace from a bounded hold;
 * one that lets the hold fill up leaves the shared read and reads the rest of its range alone, from the last event
 * it was handed, so a slow subscriber never holds the others back and nothing is skipped or handed out twice.
 */
export function createSharedHistory(options: SharedHistoryOptions): SharedHistory {
  const reads = new Set<Read>()
  const eventsPerTurn = options.eventsPerTurn ?? 64

  const finish = (read: Read, part: Part, end: NonNullable<Part['end']>) => {
    if (part.end) return
    part.end = end
    part.leave?.()
    read.parts.delete(part)
    part.wake?.()
  }

  async function pump(read: Read, cursor: HistoryCursor): Promise<void> {
    let handed = 0
    try {
      while (read.parts.size > 0) {
        const step = await cursor.next()
        if (step.kind === 'closed') {
          for (const part of [...read.parts]) finish(read, part, { kind: 'invalidated' })
          break
        }
        if (step.kind === 'idle') {
          if (!step.position) continue
          if (comparePositions(step.position, read.position) > 0) read.position = step.position
          for (const part of [...read.parts]) if (comparePositions(step.position, part.request.until) >= 0) finish(read, part, { kind: 'reached' })
          continue
        }
        const { position } = step
        for (const part of [...read.parts]) if (comparePositions(position, part.request.until) > 0) finish(read, part, { kind: 'reached' })
        if (INVALIDATING_EVENTS.has(step.raw.operationType as string)) {
          for (const part of [...read.parts]) if (comparePositions(position, part.request.from) > 0) finish(read, part, { kind: 'invalidated' })
          // Whoever started at or after it never sees it again: they read on alone and meet what follows.
          for (const part of [...read.parts]) finish(read, part, { kind: 'alone', from: part.last })
          break
        }
        read.position = position
        read.dispatcher.dispatch(options.parse(options.collection, step.raw))
        for (const part of [...read.parts]) if (comparePositions(position, part.request.until) >= 0) finish(read, part, { kind: 'reached' })
        // A batch is handed out without waiting for I/O: let live deliveries through between slices of it.
        if (++handed % eventsPerTurn === 0) await turn()
      }
    } catch (error) {
      for (const part of [...read.parts]) finish(read, part, { kind: 'failed', error })
    } finally {
      read.cursor = null
      reads.delete(read)
      await cursor.close()
    }
  }

  const joinable = (from: Position): Read | undefined => {
    let best: Read | undefined
    for (const read of reads) {
      if (read.cursor === null || comparePositions(read.position, from) > 0) continue
      if (!best || comparePositions(read.position, best.position) > 0) best = read
    }
    return best
  }

  async function start(from: Position): Promise<Read> {
    const read: Read = { position: from, dispatcher: createDispatcher(), parts: new Set(), cursor: undefined }
    reads.add(read)
    try {
      read.cursor = await openHistoryCursor({ collection: options.mongoCollection, pipeline: [], from })
    } catch (error) {
      reads.delete(read)
      read.cursor = null
      // Those who joined while it opened may start later than `from`: each finds out alone what its own start gives.
      for (const part of [...read.parts]) finish(read, part, { kind: 'alone', from: part.request.from })
      throw error
    }
    return read
  }

  return {
    async join(request) {
      const found = joinable(request.from)
      const read = found ?? (await start(request.from))
      const part: Part = {
        request,
        held: [],
        last: request.from,
        filter: request.filter,
        deliver(delivery) {
          if (part.end || comparePositions(delivery.event.position, request.from) <= 0) return
          if (part.held.length >= options.holdLimit) return finish(read, part, { kind: 'alone', from: part.last })
          part.held.push(delivery)
          part.last = delivery.event.position
          part.wake?.()
        },
        fail: () => undefined,
      }
      if (read.cursor === null) {
        // The read ended (or failed to open) while this subscriber waited for it.
        part.end = { kind: 'alone', from: request.from }
      } else {
        read.parts.add(part)
        part.leave = read.dispatcher.add(part)
        // A new read starts once its first subscriber is in (it ends when it has none).
        if (!found) void pump(read, read.cursor!)
      }
      return {
        async run(deliver) {
          for (let handed = 1; ; handed++) {
            const next = part.held.shift()
            if (next) {
              if (!(await deliver(next))) {
                finish(read, part, { kind: 'reached' })
                return { kind: 'reached' }
              }
              // Many subscribers draining their holds at once would otherwise run as one long chain of promises.
              if (handed % eventsPerTurn === 0) await turn()
              continue
            }
            const end = part.end
            if (end?.kind === 'failed') throw end.error
            if (end) return end
            await new Promise<void>((resolve) => (part.wake = resolve))
            part.wake = undefined
          }
        },
        close() {
          finish(read, part, { kind: 'reached' })
          part.held.length = 0
        },
      }
    },
    get reads() {
      return reads.size
    },
  }
}
