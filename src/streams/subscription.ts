import type { Collection as MongoCollection } from 'mongodb'
import { slowConsumer, type GatewayError } from '../errors.js'
import { comparePositions, type Position } from '../mongo/position.js'
import { openCatchUp, toGatewayError, type CatchUp } from './catch-up.js'
import { holdFilterEvaluator, type HeldEvaluator, type Member } from './dispatcher.js'
import type { CompiledFilter } from './filters/compiler.js'
import { createSharedHistory, type SharedHistory } from './shared-history.js'
import type { SharedStream } from './shared-stream.js'
import type { Delivery, EventParser } from './stream-event.js'
import { createSubscriberQueue, type SubscriberQueue } from './subscriber-queue.js'

export interface SubscriptionOptions {
  readonly filter: CompiledFilter
  /** Deliver every match strictly after this position first; absent = from the stream's current position. */
  readonly after?: Position
  readonly stream: SharedStream
  readonly mongoCollection: MongoCollection
  /** Deliveries queued for the consumer, and live deliveries held while it re-reads history. */
  readonly bufferSize: number
  readonly parse: EventParser
  readonly onClose: () => void
}

/** Catch-ups of one shared stream's subscribers share their reads of its history too. */
const histories = new WeakMap<SharedStream, SharedHistory>()

function sharedHistoryOf(options: SubscriptionOptions): SharedHistory {
  let share = histories.get(options.stream)
  if (!share) {
    share = createSharedHistory({
      mongoCollection: options.mongoCollection,
      collection: options.filter.collection,
      parse: options.parse,
      holdLimit: options.bufferSize,
    })
    histories.set(options.stream, share)
  }
  return share
}

/**
 * One subscriber's ordered, exactly-once view of a shared stream. Live deliveries go straight to its queue. When it
 * starts from an older cursor, or falls `bufferSize` behind, it reads history from MongoDB at its own pace (the
 * oplog is the buffer, not gateway memory) while holding at most `bufferSize` live deliveries, and rejoins live
 * delivery where history meets them. Positions make every step idempotent: nothing at or before the last delivered
 * position is delivered again.
 */
export async function openSubscription(options: SubscriptionOptions): Promise<SubscriberQueue<Delivery>> {
  const { filter, stream, bufferSize } = options
  let last = options.after
  let recovering = false
  let invalidated: GatewayError | undefined
  let held: Delivery[] | undefined

  const queue = createSubscriberQueue<Delivery>({
    capacity: bufferSize,
    onOverflow: slowConsumer,
    onClose: () => {
      leave()
      evaluator?.release()
      evaluator = undefined
      options.onClose()
    },
  })
  const isNew = (delivery: Delivery) => !last || comparePositions(delivery.event.position, last) > 0
  const push = (delivery: Delivery) => {
    last = delivery.event.position
    queue.push(delivery)
  }

  const member: Member = {
    filter,
    deliver(delivery) {
      if (!isNew(delivery)) return
      if (recovering) {
        if (held && held.length < bufferSize) held.push(delivery)
        else held = undefined
      } else if (queue.size < bufferSize) {
        push(delivery)
      } else {
        // Too far behind to queue more: re-read from MongoDB from the last delivered position.
        void recover()
      }
    },
    fail(error) {
      // A drop or rename while this subscriber re-reads history: the re-read goes on up to the invalidating event
      // (and fails with it there), so every change committed before it is delivered first.
      if (recovering && error.extensions.code === 'STREAM_INVALIDATED') invalidated = error
      else queue.fail(error)
    },
  }

  // Held from the first event a catch-up reads alone, while it recovers: a shared history read evaluates the filter
  // itself, most subscriptions never catch up, and a compiled filter is most of what an idle one would hold.
  let evaluator: HeldEvaluator | undefined
  const catchUpTo = (until: Position) =>
    openCatchUp({
      mongoCollection: options.mongoCollection,
      collection: filter.collection,
      filter,
      pipeline: filter.pipeline,
      // Nothing is delivered once the queue closed (and its evaluator was released).
      evaluate: (event) => (queue.closed ? undefined : (evaluator ??= holdFilterEvaluator(filter)).evaluate(event)),
      parse: options.parse,
      from: last!,
      until,
      share: sharedHistoryOf(options),
    })

  const deliverInOrder = async (delivery: Delivery) => {
    await queue.space()
    if (queue.closed) return false
    if (isNew(delivery)) push(delivery)
    return true
  }

  /** Reads history until it meets the held live deliveries, then hands them over and goes live again. */
  async function recover(first?: CatchUp): Promise<void> {
    if (recovering && !first) return
    if (!first) {
      // The first catch-up (from the subscriber's cursor) already holds live deliveries since it was opened.
      recovering = true
      held = []
    }
    let catchUp = first
    try {
      for (;;) {
        catchUp ??= await catchUpTo(stream.position()!)
        await catchUp.run(deliverInOrder)
        catchUp = undefined
        if (queue.closed) return
        while (held && held.length > 0) {
          // A thousand subscribers reaching live at once would hand over everything they held in one long chain.
          const turn = sharedHistoryOf(options).take()
          if (turn) await turn
          if (!held) continue
          if (!(await deliverInOrder(held.shift()!))) return
        }
        if (held) break
        held = []
      }
      recovering = false
      held = undefined
      evaluator?.release()
      evaluator = undefined
      if (invalidated) queue.fail(invalidated)
    } catch (error) {
      const failure = toGatewayError(error)
      // STREAM_INVALIDATED ends the queue after what it holds (subscriber-queue.ts): nothing read before it is lost.
      queue.fail(failure.extensions.code === 'CURSOR_EXPIRED' ? slowConsumer() : failure)
    }
  }

  const live = stream.position()
  const needsHistory = last !== undefined && live !== undefined && comparePositions(last, live) < 0
  if (needsHistory) {
    recovering = true
    held = []
  }
  const leave = stream.join(member)
  if (!needsHistory) return queue
  let first: CatchUp
  try {
    first = await catchUpTo(live!)
  } catch (error) {
    void queue.return?.()
    throw error
  }
  void recover(first)
  return queue
}
