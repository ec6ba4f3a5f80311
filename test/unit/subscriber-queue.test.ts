import { describe, expect, it } from 'vitest'
import { GatewayError, ErrorCode } from '../../src/errors.js'
import { createSubscriberQueue } from '../../src/streams/subscriber-queue.js'

const slow = () => new GatewayError(ErrorCode.SLOW_CONSUMER, 'slow')

describe('subscriber queue', () => {
  it('delivers values in order to a waiting and to a late consumer', async () => {
    const queue = createSubscriberQueue<number>({ capacity: 10, onOverflow: slow, onClose: () => undefined })
    const first = queue.next()
    queue.push(1)
    queue.push(2)
    queue.push(3)
    expect(await first).toEqual({ value: { value: 1 }, done: false })
    expect(await queue.next()).toEqual({ value: { value: 2 }, done: false })
    expect(await queue.next()).toEqual({ value: { value: 3 }, done: false })
  })

  it('ends a consumer that falls behind with one error instead of growing', async () => {
    let closed = 0
    const queue = createSubscriberQueue<number>({ capacity: 3, onOverflow: slow, onClose: () => closed++ })
    for (let n = 0; n < 10; n++) queue.push(n)
    expect(queue.size).toBe(1)
    const item = await queue.next()
    expect(item.done).toBe(false)
    expect(item.value?.error?.extensions.code).toBe('SLOW_CONSUMER')
    expect(await queue.next()).toEqual({ value: undefined, done: true })
    expect(closed).toBe(1)
  })

  it('fail() overtakes queued values and ends the iterator', async () => {
    const queue = createSubscriberQueue<number>({ capacity: 10, onOverflow: slow, onClose: () => undefined })
    queue.push(1)
    queue.fail(new GatewayError(ErrorCode.INTERNAL_SERVER_ERROR, 'Internal server error'))
    queue.push(2)
    const item = await queue.next()
    expect(item.value?.error?.extensions.code).toBe('INTERNAL_SERVER_ERROR')
    expect((await queue.next()).done).toBe(true)
  })

  it('fail() with STREAM_INVALIDATED delivers what is queued first, then the error, and accepts nothing more', async () => {
    let closed = 0
    const queue = createSubscriberQueue<number>({ capacity: 10, onOverflow: slow, onClose: () => closed++ })
    queue.push(1)
    queue.push(2)
    queue.fail(new GatewayError(ErrorCode.STREAM_INVALIDATED, 'gone'))
    queue.push(3)
    // Released at once, although the consumer has not read the end yet.
    expect(closed).toBe(1)
    expect(queue.closed).toBe(true)
    const read = []
    for await (const item of queue) read.push(item.error ? item.error.extensions.code : item.value)
    expect(read).toEqual([1, 2, 'STREAM_INVALIDATED'])
    expect(closed).toBe(1)
  })

  it('fail() follows afterQueued when it is given', async () => {
    const immediate = createSubscriberQueue<number>({ capacity: 10, onOverflow: slow, onClose: () => undefined })
    immediate.push(1)
    immediate.fail(new GatewayError(ErrorCode.STREAM_INVALIDATED, 'gone'), { afterQueued: false })
    expect((await immediate.next()).value?.error?.extensions.code).toBe('STREAM_INVALIDATED')

    const queued = createSubscriberQueue<number>({ capacity: 10, onOverflow: slow, onClose: () => undefined })
    queued.push(1)
    queued.fail(slow(), { afterQueued: true })
    expect((await queued.next()).value).toEqual({ value: 1 })
    expect((await queued.next()).value?.error?.extensions.code).toBe('SLOW_CONSUMER')
    expect((await queued.next()).done).toBe(true)
  })

  it('overflow drops what is queued even when the overflow error would otherwise wait behind it', async () => {
    const queue = createSubscriberQueue<number>({
      capacity: 2,
      onOverflow: () => new GatewayError(ErrorCode.STREAM_INVALIDATED, 'gone'),
      onClose: () => undefined,
    })
    for (let n = 0; n < 3; n++) queue.push(n)
    expect((await queue.next()).value?.error?.extensions.code).toBe('STREAM_INVALIDATED')
    expect((await queue.next()).done).toBe(true)
  })

  it('space() does not wait on a queue that is ending, even while it is full', async () => {
    const queue = createSubscriberQueue<number>({ capacity: 2, onOverflow: slow, onClose: () => undefined })
    queue.push(1)
    queue.push(2)
    const waiting = queue.space()
    queue.fail(new GatewayError(ErrorCode.STREAM_INVALIDATED, 'gone'))
    await waiting
    await queue.space()
    expect((await queue.next()).value).toEqual({ value: 1 })
  })

  it('fail() runs onClose at once, before the consumer reads the error, and only once', async () => {
    let closed = 0
    const queue = createSubscriberQueue<number>({ capacity: 10, onOverflow: slow, onClose: () => closed++ })
    queue.push(1)
    queue.fail(slow())
    expect(closed).toBe(1)
    expect(queue.closed).toBe(true)
    expect((await queue.next()).value?.error?.extensions.code).toBe('SLOW_CONSUMER')
    expect((await queue.next()).done).toBe(true)
    await queue.return!()
    expect(closed).toBe(1)
  })

  it('return() releases a pending consumer and runs onClose once', async () => {
    let closed = 0
    const queue = createSubscriberQueue<number>({ capacity: 10, onOverflow: slow, onClose: () => closed++ })
    const pending = queue.next()
    await queue.return!()
    await queue.return!()
    expect(await pending).toEqual({ value: undefined, done: true })
    expect(closed).toBe(1)
    queue.push(5)
    expect(queue.size).toBe(0)
  })

  it('space() waits while the queue is full and resolves as the consumer drains', async () => {
    const queue = createSubscriberQueue<number>({ capacity: 2, onOverflow: slow, onClose: () => undefined })
    queue.push(1)
    queue.push(2)
    let resolved = false
    const space = queue.space().then(() => (resolved = true))
    await new Promise((r) => setTimeout(r, 10))
    expect(resolved).toBe(false)
    await queue.next()
    await space
    expect(resolved).toBe(true)
  })

  it('keeps order and size through drains, a burst past its compaction point and interleaved push and shift', () => {
    const queue = createSubscriberQueue<number>({ capacity: 10_000, onOverflow: slow, onClose: () => undefined })
    const taken: number[] = []
    const take = () => {
      const item = queue.peek()
      if (item && !item.error) taken.push(item.value)
      queue.shift()
    }
    let next = 0
    // One at a time, as a subscriber at live pace: the queue is drained after every push.
    for (; next < 100; next++) {
      queue.push(next)
      expect(queue.size).toBe(1)
      take()
      expect(queue.size).toBe(0)
    }
    // A burst of 3,000, taken two for every one pushed: the front is compacted away on the way.
    for (let i = 0; i < 3_000; i++) queue.push(next++)
    while (queue.size > 0) {
      take()
      take()
      if (next < 4_000) queue.push(next++)
    }
    // After the burst, one at a time again.
    for (let i = 0; i < 10; i++) {
      queue.push(next++)
      take()
    }
    expect(queue.peek()).toBeUndefined()
    expect(taken).toEqual(Array.from({ length: next }, (_, i) => i))
  })
})
