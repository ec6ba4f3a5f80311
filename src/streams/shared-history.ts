import { setImmediate as turn } from 'node:timers/promises'
import type { Collection as MongoCollection } from 'mongodb'
import { INVALIDATING_EVENTS, openHistoryCursor, type HistoryCursor } from '../mongo/history.js'
import { comparePositions, type Position } from '../mongo/position.js'
import { createDispatcher, type Dispatcher, type Member } from './dispatcher.js'
import { createTurnBudget } from './turn-budget.js'
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
  /**
   * Takes one delivery from the turn's budget that every catch-up of the collection shares: undefined while the
   * turn has room, else a promise of the next turn. For deliveries handed over beside the shared reads (the live
   * deliveries a subscriber held while it caught up).
   */
  take(): Promise<void> | undefined
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
  /**
   * A subscriber starting before every open read restarts the one that has read at most this many events (from
   * its own, earlier, start) instead of opening another read. Default 20,000: the read's subscribers wait while
   * it reads again what it had read, but each event of the range is read from MongoDB once more at most, however
   * many subscribers arrive out of order.
   */
  readonly rereadLimit?: number
}

interface Part extends Member {
  readonly request: HistoryShareRequest
  /** False while the part waits for its read to restart at (or before) its `from`: nothing is dispatched to it. */
  active: boolean
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
  /** Events read since the read (re)started. */
  events: number
  /** A restart at an earlier position: its cursor opening, and the subscribers waiting for it. */
  restart?: Restart
}

interface Restart {
  readonly from: Position
  /** The subscriber it starts for: the one that fails when the cursor cannot start there. */
  readonly initiator: Part
  readonly opening: Promise<HistoryCursor>
  /** Set once the cursor opened: the read swaps it in at its next step. */
  ready?: boolean
  /** Subscribers that join the read when it swaps the cursor in (from at or after `from`). */
  readonly parts: Part[]
  /** Settles once the cursor was swapped in, or will not be. */
  readonly done: Promise<void>
  readonly swapped: () => void
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
  const rereadLimit = options.rereadLimit ?? 20_000
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

  /** Puts a subscriber in the read's dispatch, in `until` order: it is handed every matching event read from now on. */
  const enter = (read: Read, part: Part) => {
    let at = read.parts.length
    while (at > 0 && comparePositions(read.parts[at - 1].request.until, part.request.until) > 0) at--
    read.parts.splice(at, 0, part)
    part.active = true
    part.leave = read.dispatcher.add(part)
  }

  /** Subscribers waiting for a restart that will not happen read alone, from their own start. */
  const abandon = (read: Read, restart: Restart) => {
    for (const part of restart.parts) finish(read, part, { kind: 'alone', from: part.request.from })
    restart.swapped()
  }

  /**
   * Opens a cursor at `from` for the read (its first, or an earlier start than its current one); the read swaps
   * it in at its next step. Fails for the subscriber that asked for it; the others waiting for it read alone.
   */
  const restartAt = (read: Read, from: Position, initiator: Part): Restart => {
    let swapped!: () => void
    const done = new Promise<void>((resolve) => (swapped = resolve))
    const restart: Restart = {
      from,
      initiator,
      parts: [initiator],
      opening: openHistoryCursor({ collection: options.mongoCollection, pipeline: [], from }),
      done,
      swapped,
    }
    restart.opening.then(
      () => (restart.ready = true),
      () => {
        if (read.restart !== restart) return
        read.restart = undefined
        abandon(read, restart)
      },
    )
    read.restart = restart
    return restart
  }

  async function pump(read: Read): Promise<void> {
    let cursor: HistoryCursor | undefined
    let handed = 0
    try {
      for (;;) {
        const restart = read.restart
        if (restart && (!cursor || read.parts.length === 0 || restart.ready)) {
          // The restarted cursor replaces the current one once open (waited for when nothing else is to be read).
          const opened = await restart.opening.catch(() => undefined)
          if (!opened) {
            if (cursor) continue
            break
          }
          read.restart = undefined
          if (cursor) void cursor.close()
          cursor = read.cursor = opened
          read.position = restart.from
          read.events = 0
          for (const part of restart.parts) if (!part.end) enter(read, part)
          restart.swapped()
          continue
        }
        if (!cursor || read.parts.length === 0) break
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
        read.events++
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
      for (const part of [...read.parts]) finish(read, part, { kind: 'alone', from: part.last })
      const pending = read.restart
      read.restart = undefined
      if (pending) {
        abandon(read, pending)
        void pending.opening.then((opened) => opened.close(), () => undefined)
      }
      await cursor?.close()
    }
  }

  /** The read a subscriber starting at `from` joins at once: one that has not read past `from` yet. */
  const joinable = (from: Position): Read | undefined => {
    let best: Read | undefined
    for (const read of reads) {
      if (read.cursor === null || comparePositions(read.position, from) > 0) continue
      if (!best || comparePositions(read.position, best.position) > 0) best = read
    }
    return best
  }

  /**
   * A read that has gone past `from` but may start again before it: one already restarting at or before `from`,
   * else the one that has read least, else one restarting later than `from` (to wait for).
   */
  const restartable = (from: Position): Read | undefined => {
    let idle: Read | undefined
    let busy: Read | undefined
    for (const read of reads) {
      if (read.cursor === null || read.events > rereadLimit) continue
      if (!read.restart) {
        if (!idle || read.events < idle.events) idle = read
      } else if (comparePositions(read.restart.from, from) <= 0) {
        return read
      } else {
        busy ??= read
      }
    }
    return idle ?? busy
  }

  return {
    async join(request) {
      const part: Part = {
        request,
        active: false,
        held: [],
        last: request.from,
        filter: request.filter,
        deliver(delivery) {
          // After a restart the read hands out again what a subscriber already has: only what follows is new.
          if (part.end || !part.active || comparePositions(delivery.event.position, part.last) <= 0) return
          if (part.held.length >= options.holdLimit) return finish(read, part, { kind: 'alone', from: part.last })
          part.held.push(delivery)
          part.last = delivery.event.position
          part.wake?.()
        },
        fail: () => undefined,
      }
      let read: Read
      for (;;) {
        const found = joinable(request.from)
        if (found) {
          read = found
          enter(read, part)
          break
        }
        const candidate = restartable(request.from)
        if (candidate?.restart && comparePositions(candidate.restart.from, request.from) > 0) {
          // Restarting at a later position: once it has, it may restart again, here.
          await candidate.restart.done
          continue
        }
        read = candidate ?? { position: request.from, dispatcher: createDispatcher(), parts: [], cursor: undefined, events: 0 }
        let restart = read.restart
        if (restart) restart.parts.push(part)
        else restart = restartAt(read, request.from, part)
        if (!candidate) {
          reads.add(read)
          void pump(read)
        }
        try {
          await restart.opening
        } catch (error) {
          // The cursor could not start at this subscriber's own position: it fails as MongoDB did. Others read alone.
          if (restart.initiator === part) throw error
        }
        break
      }
      return {
        async run(deliver) {
          for (;;) {
            if (part.held.length > 0) {
              // Many subscribers draining their holds at once would otherwise run as one long chain of promises.
              const wait = budget.take()
              if (wait) await wait
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
    take: () => budget.take(),
  }
}
