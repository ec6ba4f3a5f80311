import { ErrorCode, hasCode, type GatewayError } from '../errors.js'

/** What a subscription's iterator yields: a value, or a final error (the iterator ends after it). */
export type QueueItem<T> = { readonly value: T; readonly error?: undefined } | { readonly error: GatewayError }

export interface SubscriberQueue<T> extends AsyncIterableIterator<QueueItem<T>> {
  /** Appends a value; past `capacity` queued values the queue fails with `onOverflow()`'s error instead. */
  push(value: T): void
  /**
   * Ends the iterator with `error`: after what is queued when `afterQueued` (default: {@link endsAfterQueued}),
   * else delivered next, dropping the rest. Either way nothing more is accepted and `onClose` runs now.
   */
  fail(error: GatewayError, options?: { readonly afterQueued?: boolean }): void
  /** Resolves once fewer than `capacity` values are queued (or the queue closed): for producers that can wait. */
  space(): Promise<void>
  readonly size: number
  /** The consumer stopped iterating, or the queue ended with an error (which may still wait to be read). */
  readonly closed: boolean
  /** When the consumer last took an item (or the queue was created), from `performance.now()`. */
  readonly lastPullAt: number
  /**
   * The consumer's synchronous side, for a consumer that takes items without `next()`: the next item, left in the
   * queue; undefined when none is queued (see `closed` for whether more will come).
   */
  peek(): QueueItem<T> | undefined
  /** Takes the item `peek()` returned, as `next()` would have. */
  shift(): void
  /**
   * Calls `listener.queueReady()` once, at the next item offered or when the queue closes or fails (replacing an
   * earlier listener). An object rather than a callback: a consumer held per subscription passes itself, and no
   * closure is kept per subscription for it.
   */
  onReady(listener: ReadyListener): void
}

/** A synchronous consumer of a {@link SubscriberQueue} (see `onReady`). */
export interface ReadyListener {
  queueReady(): void
}

export interface SubscriberQueueOptions {
  readonly capacity: number
  readonly onOverflow: () => GatewayError
  /**
   * Runs once when the consumer stops iterating or the queue ends with an error: at `fail()`, not when the
   * consumer reads the error, so a subscription the server ended is released even if its client never reads again.
   */
  readonly onClose: () => void
}

/**
 * Whether a queue that fails with `error` still delivers what it holds first. A dropped or renamed collection
 * (STREAM_INVALIDATED) ends the data itself: what is queued was committed before it, and a client cannot read it
 * again by resuming, so it is delivered before the error. Any other error is delivered at once, dropping the
 * rest: SLOW_CONSUMER (overflow, a stall) exists to free what the consumer did not read, and it resumes from the
 * last cursor it received, which re-reads exactly what was dropped; so does a client after INTERNAL_SERVER_ERROR.
 */
export function endsAfterQueued(error: GatewayError): boolean {
  return hasCode(error, ErrorCode.STREAM_INVALIDATED)
}

/**
 * A bounded single-consumer queue behind an async iterator. It never grows past `capacity`: a consumer that falls
 * that far behind gets one error item (e.g. SLOW_CONSUMER) and the iterator ends.
 */
export function createSubscriberQueue<T>(options: SubscriberQueueOptions): SubscriberQueue<T> {
  return new BoundedQueue<T>(options)
}

const DONE: IteratorResult<never> = { value: undefined, done: true }
/** A drained queue keeps an array of up to this many slots for its next items. */
const SLOTS_KEPT = 64

/**
 * A class rather than closures over local state: one queue per subscription, and methods on the prototype cost
 * nothing per queue where sixteen closures and their context cost about a kilobyte.
 */
class BoundedQueue<T> implements SubscriberQueue<T> {
  /**
   * Items from `#head` to `#tail`; the slots outside are empty. Draining resets the indices and keeps the array, so a
   * subscriber receiving one delivery at a time allocates nothing per delivery. (A fresh array per drain lives until
   * the subscriber's next delivery, seconds later: V8 moves every such array, and the storage its next push grows, to
   * the old generation, where they pile up until a full mark of the heap.)
   */
  #items: Array<QueueItem<T> | undefined> = []
  #head = 0
  #tail = 0
  #waiter: ((r: IteratorResult<QueueItem<T>>) => void) | undefined
  /** An error is queued: nothing more is accepted. */
  #ending = false
  #closed = false
  #spaceWaiters: Array<() => void> = []
  #lastPullAt = performance.now()
  #released = false
  #ready: ReadyListener | undefined
  readonly #options: SubscriberQueueOptions

  constructor(options: SubscriberQueueOptions) {
    this.#options = options
  }

  push(value: T): void {
    if (this.#closed || this.#ending) return
    if (this.#tail - this.#head >= this.#options.capacity) {
      // Dropping what is queued is the point: memory stays bounded, and the consumer resumes from the last
      // cursor it received, which re-reads exactly what it missed.
      this.fail(this.#options.onOverflow(), { afterQueued: false })
      return
    }
    this.#offer({ value })
  }

  fail(error: GatewayError, { afterQueued = endsAfterQueued(error) }: { readonly afterQueued?: boolean } = {}): void {
    if (this.#closed || this.#ending) return
    this.#ending = true
    if (!afterQueued) this.#drop()
    this.#offer({ error })
    this.#wakeSpace()
    this.#release()
  }

  space(): Promise<void> {
    if (this.#closed || this.#ending || this.#tail - this.#head < this.#options.capacity) return Promise.resolve()
    return new Promise((resolve) => this.#spaceWaiters.push(resolve))
  }

  get size(): number {
    return this.#tail - this.#head
  }

  get closed(): boolean {
    return this.#closed || this.#ending
  }

  get lastPullAt(): number {
    return this.#lastPullAt
  }

  peek(): QueueItem<T> | undefined {
    this.#lastPullAt = performance.now()
    return this.#closed || this.#head >= this.#tail ? undefined : this.#items[this.#head]
  }

  shift(): void {
    if (this.#closed || this.#head >= this.#tail) return
    this.#items[this.#head++] = undefined
    if (this.#head === this.#tail) {
      // Drained: start over at slot 0. A burst's large array is let go rather than held for good.
      if (this.#items.length > SLOTS_KEPT) this.#items = []
      this.#head = this.#tail = 0
    } else if (this.#head > 1024 && this.#head * 2 > this.#tail) {
      this.#items = this.#items.slice(this.#head, this.#tail)
      this.#tail -= this.#head
      this.#head = 0
    }
    this.#wakeSpace()
  }

  onReady(listener: ReadyListener): void {
    this.#ready = listener
  }

  next(): Promise<IteratorResult<QueueItem<T>>> {
    this.#lastPullAt = performance.now()
    if (this.#closed) return Promise.resolve(DONE)
    if (this.#head < this.#tail) {
      const item = this.#items[this.#head]!
      this.shift()
      return Promise.resolve({ value: item, done: false })
    }
    if (this.#ending) {
      this.#close()
      return Promise.resolve(DONE)
    }
    return new Promise((resolve) => {
      this.#waiter = resolve
    })
  }

  return(): Promise<IteratorResult<QueueItem<T>>> {
    const w = this.#waiter
    this.#waiter = undefined
    this.#close()
    w?.(DONE)
    return Promise.resolve(DONE)
  }

  throw(error?: unknown): Promise<IteratorResult<QueueItem<T>>> {
    void this.return()
    return Promise.reject(error)
  }

  [Symbol.asyncIterator](): this {
    return this
  }

  #notify(): void {
    const listener = this.#ready
    this.#ready = undefined
    listener?.queueReady()
  }

  #drop(): void {
    this.#items = []
    this.#head = this.#tail = 0
  }

  #release(): void {
    if (this.#released) return
    this.#released = true
    this.#options.onClose()
  }

  #wakeSpace(): void {
    if (this.#spaceWaiters.length === 0) return
    const w = this.#spaceWaiters
    this.#spaceWaiters = []
    for (const f of w) f()
  }

  #close(): void {
    if (this.#closed) return
    this.#closed = true
    this.#drop()
    this.#wakeSpace()
    this.#release()
    this.#notify()
  }

  #offer(item: QueueItem<T>): void {
    if (this.#waiter) {
      const w = this.#waiter
      this.#waiter = undefined
      w({ value: item, done: false })
      return
    }
    this.#items[this.#tail++] = item
    this.#notify()
  }
}
