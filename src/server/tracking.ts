import type { ExecutionResult } from 'graphql'
import { isAsyncIterable, type Plugin } from 'graphql-yoga'

export interface ResultTracker {
  /** Called with every error sent to a client. */
  onErrors(errors: ReadonlyArray<{ extensions?: Record<string, unknown> | null }>): void
}

export interface StreamTracking {
  /** Event streams (SSE) currently open over HTTP. */
  active(): number
  /** Resolves once no event stream is open (their iterators have been returned). */
  drained(): Promise<void>
  readonly plugin: Plugin
}

/**
 * Counts the errors HTTP responses carry (single results, batches and every event of a stream) and the event
 * streams in flight.
 */
export function useResultTracking(tracker: ResultTracker): StreamTracking {
  let open = 0
  let waiters: Array<() => void> = []
  const closeOne = () => {
    open--
    if (open > 0) return
    for (const wake of waiters) wake()
    waiters = []
  }
  const seen = (result: unknown) => {
    const errors = (result as ExecutionResult | undefined)?.errors
    if (errors?.length) tracker.onErrors(errors)
  }
  return {
    active: () => open,
    drained: () => (open === 0 ? Promise.resolve() : new Promise<void>((resolve) => waiters.push(resolve))),
    plugin: {
      onResultProcess({ result, setResult }) {
        if (isAsyncIterable(result)) {
          open++
          let counted = true
          setResult(
            track(result, seen, () => {
              if (counted) closeOne()
              counted = false
            }),
          )
        } else if (Array.isArray(result)) {
          result.forEach(seen)
        } else {
          seen(result)
        }
      },
    },
  }
}

/**
 * Wraps an iterator without an async generator: `return()` must reach the source at once, even while a
 * `next()` is pending (a generator would queue it behind that `next()`, i.e. until the next event).
 */
function track<T>(source: AsyncIterable<T>, onValue: (value: T) => void, onEnd: () => void): AsyncIterableIterator<T> {
  const it = source[Symbol.asyncIterator]()
  const end = <R>(r: R) => {
    onEnd()
    return r
  }
  return {
    async next() {
      try {
        const step = await it.next()
        if (step.done) return end(step)
        onValue(step.value)
        return step
      } catch (error) {
        throw end(error)
      }
    },
    async return(value?: unknown) {
      try {
        return it.return ? await it.return(value) : { done: true, value: undefined }
      } finally {
        onEnd()
      }
    },
    async throw(error?: unknown) {
      try {
        if (it.throw) return await it.throw(error)
        throw error
      } finally {
        onEnd()
      }
    },
    [Symbol.asyncIterator]() {
      return this
    },
  }
}
