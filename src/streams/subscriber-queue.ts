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
  /** Calls `callback` once, at the next item offered or when the queue closes or fails (replacing an earlier one). */
  onReady(callback: () => void): void
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
  let items: Array<QueueItem<T>> = []
  let head = 0
  let waiter: ((r: IteratorResult<QueueItem<T>>) => void) | undefined
  let ending = false // an error is queued: nothing more is accepted
  let closed = false
  let spaceWaiters: Array<() => void> = []
  let lastPullAt = performance.now()
  let released = false
  let ready: (() => void) | undefined
  const notify = () => {
    const callback = ready
    ready = undefined
    callback?.()
  }
  const release = () => {
    if (released) return
    released = true
    options.onClose()
  }

  const wakeSpace = () => {
    if (spaceWaiters.length === 0) return
    const w = spaceWaiters
    spaceWaiters = []
    for (const f of w) f()
  }

  const close = () => {
    if (closed) return
    closed = true
    items = []
    head = 0
    wakeSpace()
    release()
    notify()
  }

  const offer = (item: QueueItem<T>) => {
    if (waiter) {
      const w = waiter
      waiter = undefined
      w({ value: item, done: false })
      return
    }
    items.push(item)
    notify()
  }

  const queue: SubscriberQueue<T> = {
    push(value) {
      if (closed || ending) return
      if (items.length - head >= options.capacity) {
        // Dropping what is queued is the point: memory stays bounded, and the consumer resumes from the last
        // cursor it received, which re-reads exactly what it missed.
        queue.fail(options.onOverflow(), { afterQueued: false })
        return
      }
      offer({ value })
    },
    fail(error, { afterQueued = endsAfterQueued(error) } = {}) {
      if (closed || ending) return
      ending = true
      if (!afterQueued) {
        items = []
        head = 0
      }
      offer({ error })
      wakeSpace()
      release()
    },
    space() {
      if (closed || ending || items.length - head < options.capacity) return Promise.resolve()
      return new Promise((resolve) => spaceWaiters.push(resolve))
    },
    get size() {
      return items.length - head
    },
    get closed() {
      return closed || ending
    },
    get lastPullAt() {
      return lastPullAt
    },
    peek() {
      lastPullAt = performance.now()
      return closed || head >= items.length ? undefined : items[head]
    },
    shift() {
      if (closed || head >= items.length) return
      items[head++] = undefined as never
      if (head === items.length) {
        // Drained: start over rather than keep the taken slots (and what they referenced) alive.
        items = []
        head = 0
      } else if (head > 1024 && head * 2 > items.length) {
        items = items.slice(head)
        head = 0
      }
      wakeSpace()
    },
    onReady(callback) {
      ready = callback
    },
    next() {
      lastPullAt = performance.now()
      if (closed) return Promise.resolve({ value: undefined, done: true })
      if (head < items.length) {
        const item = items[head]
        queue.shift()
        return Promise.resolve({ value: item, done: false })
      }
      if (ending) {
        close()
        return Promise.resolve({ value: undefined, done: true })
      }
      return new Promise((resolve) => {
        waiter = resolve
      })
    },
    return() {
      const w = waiter
      waiter = undefined
      close()
      w?.({ value: undefined, done: true })
      return Promise.resolve({ value: undefined, done: true })
    },
    throw(error?: unknown) {
      void queue.return?.()
      return Promise.reject(error)
    },
    [Symbol.asyncIterator]() {
      return queue
    },
  }
  return queue
}
