import type { ExecutionResult } from 'graphql'
import type { DirectSource } from '../schema/shared-execution.js'
import { nextFramePrefix, payloadJson } from './ws-frames.js'

/** Writes one frame; a promise when the sender must wait before the next (socket buffer full, turn spent). Rejects on a closed socket. */
export type FrameSender = (frame: string) => Promise<void> | undefined

const DONE: IteratorResult<ExecutionResult, undefined> = { value: undefined, done: true }

/**
 * A WebSocket subscription whose shared, error-free results go straight from its queue to the socket: one frame
 * per delivery, spliced from the result's JSON (serialized once per result), with no promise, iterator step or
 * envelope per delivery. graphql-ws still owns the operation: it holds this iterator, ends it on `complete` or
 * close, and sends `complete` when it ends. Frames are written only while graphql-ws waits on `next()`, so nothing
 * is sent after it returned the iterator.
 *
 * Anything else — an error item, a result with errors, a result that is not shared — is left in the queue and the
 * subscription falls back to `upstream`, the operation's own iterator (every envelop hook, masking, graphql-ws's
 * formatting), for good: order is kept, because the item is taken by `upstream` in its turn.
 */
export function directSubscription(
  id: string,
  source: DirectSource,
  upstream: AsyncIterator<ExecutionResult>,
  send: FrameSender,
): AsyncGenerator<ExecutionResult, undefined, undefined> {
  const { queue } = source
  const prefix = nextFramePrefix(id)
  let direct = true
  let stopped = false
  let blocked = false
  let waiting: ((step: IteratorResult<ExecutionResult, undefined> | Promise<IteratorResult<ExecutionResult, undefined>>) => void) | undefined

  const finish = () => {
    stopped = true
    const resolve = waiting
    waiting = undefined
    resolve?.(DONE)
  }
  const fallBack = () => {
    direct = false
    const resolve = waiting
    waiting = undefined
    resolve?.(upstream.next() as Promise<IteratorResult<ExecutionResult, undefined>>)
  }
  const resume = () => {
    blocked = false
    pump()
  }
  const failed = () => {
    blocked = false
    void upstream.return?.()
    finish()
  }

  function pump(): void {
    while (waiting && direct && !blocked && !stopped) {
      const item = queue.peek()
      if (item === undefined) {
        if (queue.closed) return fallBack()
        return queue.onReady(pump)
      }
      let result: ExecutionResult | Promise<ExecutionResult> | undefined
      try {
        result = source.result(item)
      } catch {
        // Not this loop's to report (it may run inside a producer's push): the operation's own iterator will.
        return fallBack()
      }
      if (result === undefined) return fallBack()
      if (result instanceof Promise) {
        // The first subscriber of this result waits for its execution; the memo then holds it settled.
        blocked = true
        result.then(resume, () => {
          blocked = false
          fallBack()
        })
        return
      }
      if (result.errors !== undefined) return fallBack()
      queue.shift()
      source.delivered(item)
      let wait: Promise<void> | undefined
      try {
        wait = send(`${prefix}${payloadJson(result)}}`)
      } catch {
        return failed()
      }
      if (wait) {
        blocked = true
        wait.then(resume, failed)
      }
    }
  }

  const iterator: AsyncGenerator<ExecutionResult, undefined, undefined> = {
    next() {
      if (!direct) return upstream.next() as Promise<IteratorResult<ExecutionResult, undefined>>
      if (stopped) return Promise.resolve(DONE)
      return new Promise((resolve) => {
        waiting = resolve
        pump()
      })
    },
    async return() {
      finish()
      await upstream.return?.()
      return DONE
    },
    async throw(error?: unknown) {
      finish()
      await upstream.return?.()
      throw error
    },
    [Symbol.asyncIterator]() {
      return iterator
    },
  }
  return iterator
}
