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
  /** Events the read dispatches between two turns of the event loop. Default 64. */
  readonly eventsPerTurn?: number
  /**
   * Deliveries all of this collection's catch-ups together hand over in one turn of the event loop. Default 128:
   * live deliveries (and everything else waiting on I/O) get their turn in between, however many catch up.
   */
  readonly deliveriesPerTurn?: number
}

/** A budget of work per turn of the event loop, shared by many loops: past it, they wait for the next turn. */
function createTurnBudget(perTurn: number): { take(): Promise<void> | undefined } {
  let used = 0
  let turnScheduled = false
  let waiting: Array<() => void> = []
  const nextTurn = () => {
    turnScheduled = false
    used = 0
    const woken = waiting
    waiting = []
    for (const wake of woken) wake()
  }
  const take = (): Promise<void> | undefined => {
    if (!turnScheduled) {
      turnScheduled = true
      setImmediate(nextTurn)
    }
    if (used < perTurn) {
      used++
      return undefined
    }
    return new Promise<void>((resolve) => waiting.push(resolve)).then(take)
  }
  return { take }
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
  /** Its subscribers, by `until` (earliest first): an event finishes those at the front only. */
  readonly parts: Part[]
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
  const budget = createTurnBudget(options.deliveriesPerTurn ?? 128)

  const finish = (read: Read, part: Part, end: NonNullable<Part['end']>) => {
    if (part.end) return
    part.end = end
    part.leave?.()
    const at = read.parts.indexOf(part)
    if (at >= 0) read.parts.splice(at, 1)
    part.wake?.()
  }

  /** Finishes the subscribers whose `until` is before `position` (`beyond` 1) or at or before it (`beyond` 0). */
  const finishUpTo = (read: Read, position: Position, beyond: 0 | 1) => {
    while (read.parts.length > 0 && comparePositions(position, read.parts[0].request.until) >= beyond) finish(read, read.parts[0], { kind: 'reached' })
  }

  async function pump(read: Read, cursor: HistoryCursor): Promise<void> {
    let handed = 0
    try {
      while (read.parts.length > 0) {
        const step = await cursor.next()
        if (step.kind === 'closed') {
          for (const part of [...read.parts]) finish(read, part, { kind: 'invalidated' })
          break
        }
        if (step.kind === 'idle') {
          if (!step.position) continue
          if (comparePositions(step.position, read.position) > 0) read.position = step.position
          finishUpTo(read, step.position, 0)
          continue
        }
        const { position } = step
        finishUpTo(read, position, 1)
        if (INVALIDATING_EVENTS.has(step.raw.operationType as string)) {
          for (const part of [...read.parts]) if (comparePositions(position, part.request.from) > 0) finish(read, part, { kind: 'invalidated' })
          // Whoever started at or after it never sees it again: they read on alone and meet what follows.
          for (const part of [...read.parts]) finish(read, part, { kind: 'alone', from: part.last })
          break
        }
        read.position = position
        read.dispatcher.dispatch(options.parse(options.collection, step.raw))
        finishUpTo(read, position, 0)
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
    const read: Read = { position: from, dispatcher: createDispatcher(), parts: [], cursor: undefined }
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
        let at = read.parts.length
        while (at > 0 && comparePositions(read.parts[at - 1].request.until, request.until) > 0) at--
        read.parts.splice(at, 0, part)
        part.leave = read.dispatcher.add(part)
        // A new read starts once its first subscriber is in (it ends when it has none).
        if (!found) void pump(read, read.cursor!)
      }
      return {
        async run(deliver) {
          for (;;) {
            if (part.held.length > 0) {
              // Many subscribers draining their holds at once would otherwise run as one long chain of promises.
              await budget.take()
              const next = part.held.shift()
              if (next && !(await deliver(next))) {
                finish(read, part, { kind: 'reached' })
                return { kind: 'reached' }
              }
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
