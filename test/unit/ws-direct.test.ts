import type { ExecutionResult } from 'graphql'
import { MessageType, stringifyMessage } from 'graphql-ws'
import { describe, expect, it } from 'vitest'
import { slowConsumer } from '../../src/errors.js'
import type { DirectSource } from '../../src/schema/shared-execution.js'
import { directSubscription } from '../../src/server/ws-direct.js'
import { nextFramePrefix, payloadJson } from '../../src/server/ws-frames.js'
import { createSubscriberQueue, type QueueItem } from '../../src/streams/subscriber-queue.js'

/** A queue of numbers whose shared result is `{ data: { n } }`, one result object per number. */
function setUp(options: { pending?: Set<number>; withErrors?: Set<number>; socketClosed?: boolean } = {}) {
  const queue = createSubscriberQueue<number>({ capacity: 100, onOverflow: slowConsumer, onClose: () => undefined })
  const results = new Map<number, ExecutionResult | Promise<ExecutionResult>>()
  const settle = new Map<number, () => void>()
  const delivered: number[] = []
  const resultOf = (n: number): ExecutionResult => (options.withErrors?.has(n) ? { data: null, errors: [] } : { data: { n } })
  // What the subscription's own results iterator yields for what is left in the queue.
  const upstreamSeen: unknown[] = []
  const upstream: AsyncIterator<ExecutionResult> = {
    async next() {
      const step = await queue.next()
      if (step.done) return { value: undefined, done: true }
      upstreamSeen.push(step.value.error ? step.value.error.extensions.code : step.value.value)
      return { value: step.value.error ? { errors: [step.value.error] } : resultOf(step.value.value), done: false }
    },
    async return() {
      await queue.return?.()
      return { value: undefined, done: true }
    },
  }
  const source: DirectSource = {
    queue,
    results: () => upstream,
    result(item: QueueItem<unknown>) {
      if (item.error) return undefined
      const n = item.value as number
      let result = results.get(n)
      if (!result && options.pending?.has(n)) {
        result = new Promise((resolve) => settle.set(n, () => resolve(resultOf(n))))
        result.then((settled) => results.set(n, settled), () => undefined)
      }
      result ??= resultOf(n)
      results.set(n, result)
      return result
    },
    delivered: (item) => delivered.push((item as { value: number }).value),
  }
  const frames: string[] = []
  let wait: Promise<void> | undefined
  const send = (frame: string) => {
    if (options.socketClosed) return Promise.reject(new Error('WebSocket is not open'))
    frames.push(frame)
    return wait
  }
  const iterator = directSubscription('op-1', source, send)
  return {
    queue,
    iterator,
    frames,
    delivered,
    upstreamSeen,
    settle: (n: number) => settle.get(n)!(),
    block: () => {
      let release!: () => void
      wait = new Promise((resolve) => (release = resolve))
      return () => {
        wait = undefined
        release()
      }
    },
  }
}

const frameOf = (n: number) => stringifyMessage({ id: 'op-1', type: MessageType.Next, payload: { data: { n } } })
const turn = () => new Promise((resolve) => setImmediate(resolve))

describe('direct WebSocket subscriptions', () => {
  it('write byte-identical next frames, in order, as items arrive, while graphql-ws waits on next()', async () => {
    const t = setUp()
    t.queue.push(1)
    t.queue.push(2)
    const next = t.iterator.next()
    expect(t.frames).toEqual([frameOf(1), frameOf(2)])
    t.queue.push(3)
    expect(t.frames).toEqual([frameOf(1), frameOf(2), frameOf(3)])
    expect(t.delivered).toEqual([1, 2, 3])
    expect(t.queue.size).toBe(0)
    await t.iterator.return(undefined)
    await expect(next).resolves.toEqual({ value: undefined, done: true })
    t.queue.push(4)
    expect(t.frames).toHaveLength(3)
  })

  it('uses graphql-ws framing for ids that need escaping', () => {
    const result = { data: { s: 'a"\u2028' } }
    for (const id of ['x', 'q"uote', '\\', 'ü']) {
      expect(`${nextFramePrefix(id)}${payloadJson(result)}}`).toBe(stringifyMessage({ id, type: MessageType.Next, payload: result }))
    }
  })

  it('waits while the socket asks it to, then goes on where it stopped', async () => {
    const t = setUp()
    const release = t.block()
    void t.iterator.next()
    t.queue.push(1)
    t.queue.push(2)
    expect(t.frames).toEqual([frameOf(1)])
    expect(t.queue.size).toBe(1)
    release()
    await turn()
    expect(t.frames).toEqual([frameOf(1), frameOf(2)])
  })

  it('waits for a shared result still executing, keeping order behind it', async () => {
    const t = setUp({ pending: new Set([2]) })
    void t.iterator.next()
    t.queue.push(1)
    t.queue.push(2)
    t.queue.push(3)
    expect(t.frames).toEqual([frameOf(1)])
    t.settle(2)
    await turn()
    expect(t.frames).toEqual([frameOf(1), frameOf(2), frameOf(3)])
  })

  it('leaves errors and results with errors to the operation iterator, in their turn, and stays with it', async () => {
    const t = setUp({ withErrors: new Set([2]) })
    t.queue.push(1)
    t.queue.push(2)
    t.queue.push(3)
    const step = await t.iterator.next()
    expect(t.frames).toEqual([frameOf(1)])
    expect(step).toEqual({ value: { data: null, errors: [] }, done: false })
    expect(t.upstreamSeen).toEqual([2])
    expect(await t.iterator.next()).toEqual({ value: { data: { n: 3 } }, done: false })
    t.queue.fail(slowConsumer())
    const end = await t.iterator.next()
    expect(end.value?.errors?.[0]).toMatchObject({ extensions: { code: 'SLOW_CONSUMER' } })
    expect(await t.iterator.next()).toEqual({ value: undefined, done: true })
    expect(t.frames).toEqual([frameOf(1)])
  })

  it('hands a final error to the operation iterator after every item before it', async () => {
    const t = setUp()
    t.queue.push(1)
    const pending = t.iterator.next()
    t.queue.fail(slowConsumer())
    const step = await pending
    expect(t.frames).toEqual([frameOf(1)])
    expect(step.value?.errors?.[0]).toMatchObject({ extensions: { code: 'SLOW_CONSUMER' } })
  })

  it('ends, and returns the operation, when its socket is gone', async () => {
    const t = setUp({ socketClosed: true })
    const next = t.iterator.next()
    t.queue.push(1)
    await expect(next).resolves.toEqual({ value: undefined, done: true })
    expect(t.queue.closed).toBe(true)
    expect(await t.iterator.next()).toEqual({ value: undefined, done: true })
  })
})
