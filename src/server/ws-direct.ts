import type { ExecutionResult } from 'graphql'
import type { DirectSource } from '../schema/shared-execution.js'
import type { ReadyListener } from '../streams/subscriber-queue.js'
import { nextFramePrefix, payloadJson } from './ws-frames.js'

/** Writes one frame; a promise when the sender must wait before the next (socket buffer full, turn spent). Rejects on a closed socket. */
export type FrameSender = (frame: string) => Promise<void> | undefined

type Step = IteratorResult<ExecutionResult, undefined>

const DONE: Step = { value: undefined, done: true }

/**
 * A WebSocket subscription whose shared, error-free results go straight from its queue to the socket: one frame
 * per delivery, spliced from the result's JSON (serialized once per result), with no promise, iterator step or
 * envelope per delivery. graphql-ws still owns the operation: it holds this iterator, ends it on `complete` or
 * close, and sends `complete` when it ends. Frames are written only while graphql-ws waits on `next()`, so nothing
 * is sent after it returned the iterator.
 *
 * Anything else — an error item, a result with errors, a result that is not shared — is left in the queue and the
 * subscription falls back to the source's `results()`, which executes each item as the operation would, for good:
 * order is kept, because the item is taken by `results()` in its turn. graphql-ws's `onNext` then masks, formats and
 * counts its errors (ws-protocol.ts), as for any operation.
 *
 * The iterator envelop built around the operation's results (its hooks: error masking, which `onNext` does again) is
 * not kept: it is most of what a subscription would hold for its whole life, on a path most never take.
 */
export function directSubscription(id: string, source: DirectSource, send: FrameSender): AsyncGenerator<ExecutionResult, undefined, undefined> {
  return new DirectSubscription(nextFramePrefix(id), source, send)
}

/**
 * {@link directSubscription}'s state, as a class: a node holds one per WebSocket subscription, and as closures
 * (one per step, each with its context) it cost about 1.4 KB of live heap per subscription; as an object with its
 * methods on the prototype, about a tenth of that. Every full collection marks what every subscription holds.
 */
class DirectSubscription implements AsyncGenerator<ExecutionResult, undefined, undefined>, ReadyListener {
  readonly #prefix: string
  readonly #source: DirectSource
  readonly #send: FrameSender
  #direct = true
  #stopped = false
  #blocked = false
  /** Resolves the `next()` graphql-ws waits on. */
  #waiting: ((step: Step | Promise<Step>) => void) | undefined

  constructor(prefix: string, source: DirectSource, send: FrameSender) {
    this.#prefix = prefix
    this.#source = source
    this.#send = send
  }

  next(): Promise<Step> {
    if (!this.#direct) return this.#source.results().next() as Promise<Step>
    if (this.#stopped) return Promise.resolve(DONE)
    return new Promise((resolve) => {
      this.#waiting = resolve
      this.#pump()
    })
  }

  async return(): Promise<Step> {
    this.#finish()
    await this.#source.results().return?.()
    return DONE
  }

  async throw(error?: unknown): Promise<Step> {
    this.#finish()
    await this.#source.results().return?.()
    throw error
  }

  [Symbol.asyncIterator](): this {
    return this
  }

  queueReady(): void {
    this.#pump()
  }

  #finish(): void {
    this.#stopped = true
    const resolve = this.#waiting
    this.#waiting = undefined
    resolve?.(DONE)
  }

  #fallBack(): void {
    this.#direct = false
    const resolve = this.#waiting
    this.#waiting = undefined
    resolve?.(this.#source.results().next() as Promise<Step>)
  }

  #failed(): void {
    this.#blocked = false
    void this.#source.results().return?.()
    this.#finish()
  }

  #resume(): void {
    this.#blocked = false
    this.#pump()
  }

  #pump(): void {
    const source = this.#source
    const { queue } = source
    while (this.#waiting && this.#direct && !this.#blocked && !this.#stopped) {
      const item = queue.peek()
      if (item === undefined) {
        if (queue.closed) return this.#fallBack()
        return queue.onReady(this)
      }
      let result: ExecutionResult | Promise<ExecutionResult> | undefined
      try {
        result = source.result(item)
      } catch {
        // Not this loop's to report (it may run inside a producer's push): the operation's own iterator will.
        return this.#fallBack()
      }
      if (result === undefined) return this.#fallBack()
      if (result instanceof Promise) {
        // The first subscriber of this result waits for its execution; the memo then holds it settled.
        this.#blocked = true
        result.then(
          () => this.#resume(),
          () => {
            this.#blocked = false
            this.#fallBack()
          },
        )
        return
      }
      if (result.errors !== undefined) return this.#fallBack()
      queue.shift()
      source.delivered(item)
      let wait: Promise<void> | undefined
      try {
        wait = this.#send(`${this.#prefix}${payloadJson(result)}}`)
      } catch {
        return this.#failed()
      }
      if (wait) {
        this.#blocked = true
        wait.then(
          () => this.#resume(),
          () => this.#failed(),
        )
      }
    }
  }
}
