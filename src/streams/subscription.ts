import type { Collection as MongoCollection } from 'mongodb'
import { slowConsumer, type GatewayError } from '../errors.js'
import { comparePositions, type Position } from '../mongo/position.js'
import { openCatchUp, toGatewayError, type CatchUp } from './catch-up.js'
import { holdFilterEvaluator, type HeldEvaluator, type Member } from './dispatcher.js'
import type { CompiledFilter } from './filters/compiler.js'
import { createSharedHistory, type SharedHistory } from './shared-history.js'
import type { SharedStream } from './shared-stream.js'
import type { Delivery, EventParser } from './stream-event.js'
import { createSubscriberQueue, type SubscriberQueue, type SubscriberQueueOptions } from './subscriber-queue.js'

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

/** Leaving before joining: nothing to undo (one function for all, not one per subscription). */
const stayed = (): void => undefined

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
  return new Subscription(options).open()
}

/**
 * The state of {@link openSubscription}'s subscriber, as a class: a node holds one per subscription, and as
 * closures its steps cost about 56 bytes each per subscription, most of them never used (an idle subscription only
 * ever delivers live).
 */
class Subscription implements Member, SubscriberQueueOptions {
  readonly filter: CompiledFilter
  readonly #options: SubscriptionOptions
  readonly #queue: SubscriberQueue<Delivery>
  /** Position of the last delivery queued, or the client's cursor. */
  #last: Position | undefined
  #recovering = false
  #invalidated: GatewayError | undefined
  #held: Delivery[] | undefined
  // Held from the first event a catch-up reads alone, while it recovers: a shared history read evaluates the filter
  // itself, most subscriptions never catch up, and a compiled filter is most of what an idle one would hold.
  #evaluator: HeldEvaluator | undefined
  #leave: () => void = stayed

  constructor(options: SubscriptionOptions) {
    this.#options = options
    this.filter = options.filter
    this.#last = options.after
    // The subscription is its queue's options: no options object and no closure per subscription.
    this.#queue = createSubscriberQueue<Delivery>(this)
  }

  get capacity(): number {
    return this.#options.bufferSize
  }

  onOverflow(): GatewayError {
    return slowConsumer()
  }

  /** The queue closed (see {@link SubscriberQueueOptions.onClose}). */
  onClose(): void {
    this.#leave()
    this.#releaseEvaluator()
    this.#options.onClose()
  }

  async open(): Promise<SubscriberQueue<Delivery>> {
    const { stream } = this.#options
    const queue = this.#queue
    const live = stream.position()
    const last = this.#last
    const needsHistory = last !== undefined && live !== undefined && comparePositions(last, live) < 0
    if (needsHistory) {
      this.#recovering = true
      this.#held = []
    }
    this.#leave = stream.join(this)
    if (!needsHistory) return queue
    let first: CatchUp
    try {
      first = await this.#catchUpTo(live!)
    } catch (error) {
      void queue.return?.()
      throw error
    }
    void this.#recover(first)
    return queue
  }

  deliver(delivery: Delivery): void {
    if (!this.#isNew(delivery)) return
    if (this.#recovering) {
      if (this.#held && this.#held.length < this.#options.bufferSize) this.#held.push(delivery)
      else this.#held = undefined
    } else if (this.#queue.size < this.#options.bufferSize) {
      this.#push(delivery)
    } else {
      // Too far behind to queue more: re-read from MongoDB from the last delivered position.
      void this.#recover()
    }
  }

  fail(error: GatewayError): void {
    // A drop or rename while this subscriber re-reads history: the re-read goes on up to the invalidating event
    // (and fails with it there), so every change committed before it is delivered first.
    if (this.#recovering && error.extensions.code === 'STREAM_INVALIDATED') this.#invalidated = error
    else this.#queue.fail(error)
  }

  #isNew(delivery: Delivery): boolean {
    return !this.#last || comparePositions(delivery.event.position, this.#last) > 0
  }

  #push(delivery: Delivery): void {
    this.#last = delivery.event.position
    this.#queue.push(delivery)
  }

  #releaseEvaluator(): void {
    this.#evaluator?.release()
    this.#evaluator = undefined
  }

  #catchUpTo(until: Position): Promise<CatchUp> {
    const options = this.#options
    const { filter } = this
    return openCatchUp({
      mongoCollection: options.mongoCollection,
      collection: filter.collection,
      filter,
      pipeline: filter.pipeline,
      // Nothing is delivered once the queue closed (and its evaluator was released).
      evaluate: (event) => (this.#queue.closed ? undefined : (this.#evaluator ??= holdFilterEvaluator(filter)).evaluate(event)),
      parse: options.parse,
      from: this.#last!,
      until,
      share: sharedHistoryOf(options),
    })
  }

  async #deliverInOrder(delivery: Delivery): Promise<boolean> {
    await this.#queue.space()
    if (this.#queue.closed) return false
    if (this.#isNew(delivery)) this.#push(delivery)
    return true
  }

  /** Reads history until it meets the held live deliveries, then hands them over and goes live again. */
  async #recover(first?: CatchUp): Promise<void> {
    if (this.#recovering && !first) return
    if (!first) {
      // The first catch-up (from the subscriber's cursor) already holds live deliveries since it was opened.
      this.#recovering = true
      this.#held = []
    }
    const queue = this.#queue
    const deliverInOrder = (delivery: Delivery) => this.#deliverInOrder(delivery)
    let catchUp = first
    try {
      for (;;) {
        catchUp ??= await this.#catchUpTo(this.#options.stream.position()!)
        await catchUp.run(deliverInOrder)
        catchUp = undefined
        if (queue.closed) return
        while (this.#held && this.#held.length > 0) {
          // A thousand subscribers reaching live at once would hand over everything they held in one long chain.
          const turn = sharedHistoryOf(this.#options).take()
          if (turn) await turn
          if (!this.#held) continue
          if (!(await deliverInOrder(this.#held.shift()!))) return
        }
        if (this.#held) break
        this.#held = []
      }
      this.#recovering = false
      this.#held = undefined
      this.#releaseEvaluator()
      if (this.#invalidated) queue.fail(this.#invalidated)
    } catch (error) {
      const failure = toGatewayError(error)
      // STREAM_INVALIDATED ends the queue after what it holds (subscriber-queue.ts): nothing read before it is lost.
      queue.fail(failure.extensions.code === 'CURSOR_EXPIRED' ? slowConsumer() : failure)
    }
  }
}
