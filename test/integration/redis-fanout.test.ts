import { ObjectId as BsonObjectId } from 'bson'
import type { Redis } from 'ioredis'
import { Decimal128, Long, ObjectId, Timestamp, type Document } from 'mongodb'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import {
  createRedisFanOut,
  decodeStreamMessage,
  encodeStreamMessage,
  type Envelope,
  type RedisFanOut,
} from '../../src/cluster/redis-fanout.js'
import type { StreamMessage } from '../../src/fanout/types.js'
import { createLeaseManager } from '../../src/cluster/lease-manager.js'
import { redisKeys } from '../../src/cluster/redis-scripts.js'
import { connectRedis, startRedis, type RedisServer } from '../fixtures/redis.js'

function changeEvent(n: number, id = new ObjectId()): Document {
  return {
    _id: { _data: `82${(0x65000000 + n).toString(16).toUpperCase()}00000001` },
    operationType: 'update',
    clusterTime: new Timestamp({ t: 0x65000000 + n, i: 1 }),
    wallTime: new Date(1_700_000_000_000 + n),
    ns: { db: 'changegate', coll: 'orders' },
    documentKey: { _id: id },
    fullDocument: {
      _id: id,
      tenantId: 'tenant-1',
      status: 'shipped',
      totalAmount: 12.5,
      quantity: 3,
      big: Long.fromString('9007199254740993'),
      price: Decimal128.fromString('19.99'),
      items: [{ productId: 'p-1', quantity: 2, unitPrice: 4.25 }],
      note: 'line one\nline two',
    },
  }
}

describe('stream message codec', () => {
  it('round-trips BSON values into the driver’s classes, with numbers as the driver decodes them', () => {
    const id = new ObjectId()
    const event = changeEvent(7, id)
    const decoded = decodeStreamMessage(encodeStreamMessage({ kind: 'event', raw: event }))
    expect(decoded.kind).toBe('event')
    const raw = (decoded as StreamMessage & { kind: 'event' }).raw
    expect(raw.documentKey._id).toBeInstanceOf(ObjectId)
    expect(raw.documentKey._id.equals(id)).toBe(true)
    expect(id.equals(raw.documentKey._id)).toBe(true)
    expect(raw.clusterTime).toBeInstanceOf(Timestamp)
    expect(raw.clusterTime.equals(event.clusterTime)).toBe(true)
    expect(raw.wallTime).toEqual(event.wallTime)
    expect(raw.fullDocument.totalAmount).toBe(12.5)
    expect(raw.fullDocument.quantity).toBe(3)
    expect(raw.fullDocument.big).toBeInstanceOf(Long)
    expect(raw.fullDocument.big.toString()).toBe('9007199254740993')
    expect(raw.fullDocument.price.toString()).toBe('19.99')
    expect(raw.fullDocument.items).toEqual([{ productId: 'p-1', quantity: 2, unitPrice: 4.25 }])
    expect(raw.fullDocument.note).toBe('line one\nline two')
  })

  it('decodes ObjectIds from either bson build so that they compare equal', () => {
    const fromBson = new BsonObjectId()
    const decoded = decodeStreamMessage(encodeStreamMessage({ kind: 'event', raw: { _id: fromBson } }))
    const parsed = (decoded as StreamMessage & { kind: 'event' }).raw._id as ObjectId
    expect(parsed).toBeInstanceOf(ObjectId)
    expect(parsed.equals(fromBson)).toBe(true)
    expect(fromBson.equals(parsed)).toBe(true)
  })

  it('keeps positions and end codes as plain values', () => {
    const position = { kind: 'token', token: '8265000001', time: { t: 1_694_498_817, i: 3 } } as const
    expect(decodeStreamMessage(encodeStreamMessage({ kind: 'position', position }))).toEqual({ kind: 'position', position })
    expect(decodeStreamMessage(encodeStreamMessage({ kind: 'end', code: 'STREAM_INVALIDATED' }))).toEqual({
      kind: 'end',
      code: 'STREAM_INVALIDATED',
    })
    expect(() => decodeStreamMessage('{"kind":"other"}')).toThrow(TypeError)
  })
})

interface Received {
  readonly message: StreamMessage
  readonly envelope: Envelope
}

let server: RedisServer
const clients: (Redis & { errors: Error[] })[] = []
const cleanups: (() => Promise<unknown>)[] = []
let streamNumber = 0

beforeAll(async () => {
  server = await startRedis()
})
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})
afterAll(async () => {
  for (const client of clients) client.disconnect()
  await server?.stop()
})

const nextStream = () => `changegate.orders.${++streamNumber}`

function client(): Redis {
  const redis = connectRedis(server.url)
  clients.push(redis)
  return redis
}

function node(nodeId: string, onError?: (error: unknown) => void, ttlMs = 600) {
  const publisher = client()
  const fanout = createRedisFanOut({ publisher, subscriber: client(), onError })
  const leases = createLeaseManager({ redis: publisher, nodeId, ttlMs })
  cleanups.push(() => fanout.stop(), () => leases.stop())
  return { fanout, leases, publisher }
}

async function collect(fanout: RedisFanOut, streamKey: string) {
  const received: Received[] = []
  const unsubscribe = await fanout.subscribe(streamKey, (message, envelope) => received.push({ message, envelope }))
  return { received, unsubscribe }
}

async function until(condition: () => boolean, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting')
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const blockEventLoop = (ms: number) => {
  const end = performance.now() + ms
  while (performance.now() < end) {
    // busy
  }
}

const seqs = (received: readonly Received[]) => received.map((r) => r.envelope.seq)
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)

/** What a consumer does with sequence numbers: every seq that is not the previous one plus 1 is a discontinuity. */
const discontinuities = (received: readonly Received[]) =>
  received.flatMap((r, n) => (n > 0 && r.envelope.seq !== received[n - 1].envelope.seq + 1 ? [n] : []))

describe('redis fan-out', () => {
  it('delivers 3,000 events to every node in order, with consecutive sequence numbers', async () => {
    const key = nextStream()
    // Renewals queue behind 3,000 publishes on the same connection: a TTL that a loaded machine cannot miss.
    const owner = node('node-a', undefined, 10_000)
    const other = node('node-b')
    const first = await collect(owner.fanout, key)
    const second = await collect(owner.fanout, key)
    const remote = await collect(other.fanout, key)
    const channel = redisKeys().channel(key)
    const [, subscribedConnections] = (await owner.publisher.pubsub('NUMSUB', channel)) as [string, number]
    const wire: string[] = []
    const tap = client()
    tap.on('message', (_channel: string, payload: string) => wire.push(payload))
    await tap.subscribe(channel)

    const lease = await owner.leases.tryAcquire(key)
    const events = range(1, 3000).map((n) => changeEvent(n))
    const results = await Promise.all(events.map((raw) => owner.fanout.publish(lease!, { kind: 'event', raw })))
    expect(results).toEqual(range(1, 3000).map((seq) => ({ seq })))

    await until(() => first.received.length === 3000 && second.received.length === 3000 && remote.received.length === 3000)
    for (const { received } of [first, second, remote]) {
      expect(seqs(received)).toEqual(range(1, 3000))
      expect(received.every((r) => r.envelope.nodeId === 'node-a' && r.envelope.epoch === lease!.epoch)).toBe(true)
      const ids = received.map((r) => ((r.message as StreamMessage & { kind: 'event' }).raw.documentKey._id as ObjectId))
      expect(ids.every((id, n) => id.equals(events[n].documentKey._id))).toBe(true)
    }
    // One Redis message per event, and one subscription per node, however many listeners a node has.
    expect(subscribedConnections).toBe(2)
    await until(() => wire.length === 3000)
    // Listeners on one node share the decoded message.
    expect(first.received[0].message).toBe(second.received[0].message)
  })

  it('refuses a paused old owner, and subscribers see the new owner number its messages in its own epoch', async () => {
    const key = nextStream()
    const a = node('node-a')
    const b = node('node-b')
    const seen = await collect(b.fanout, key)
    const old = await a.leases.tryAcquire(key)
    expect(await a.fanout.publish(old!, { kind: 'end', code: 'INTERNAL_SERVER_ERROR' })).toEqual({ seq: 1 })

    blockEventLoop(1000)
    const successor = await b.leases.tryAcquire(key)
    expect(successor?.epoch).toBeGreaterThan(old!.epoch)
    expect(await a.fanout.publish(old!, { kind: 'end', code: 'SLOW_CONSUMER' })).toBe('fenced')
    expect(await b.fanout.publish(successor!, { kind: 'end', code: 'STREAM_INVALIDATED' })).toEqual({ seq: 1 })

    await until(() => seen.received.length === 2)
    await sleep(50)
    expect(seen.received.map((r) => [r.envelope.epoch, r.envelope.seq, r.envelope.nodeId, r.message])).toEqual([
      [old!.epoch, 1, 'node-a', { kind: 'end', code: 'INTERNAL_SERVER_ERROR' }],
      [successor!.epoch, 1, 'node-b', { kind: 'end', code: 'STREAM_INVALIDATED' }],
    ])
  })

  it('reconnects after a Redis restart, tells listeners, and the restarted sequence shows the discontinuity', async () => {
    const key = nextStream()
    const owner = node('node-a')
    const other = node('node-b')
    const seen = await collect(other.fanout, key)
    let reconnects = 0
    other.fanout.onReconnect(() => reconnects++)
    const lease = await owner.leases.tryAcquire(key)
    const position = { kind: 'time', time: { t: 1, i: 1 } } as const
    for (let n = 0; n < 5; n++) await owner.fanout.publish(lease!, { kind: 'position', position })
    await until(() => seen.received.length === 5)

    await server.restart()
    await until(() => reconnects === 1)
    await lease!.lost
    // Same node, new lease: its epoch is still higher, so the stale token stays fenced out.
    const next = await owner.leases.tryAcquire(key)
    expect(next?.epoch).toBeGreaterThan(lease!.epoch)
    expect(await owner.fanout.publish(lease!, { kind: 'position', position })).toBe('fenced')
    expect(await owner.fanout.publish(next!, { kind: 'position', position })).toEqual({ seq: 1 })

    await until(() => seen.received.length === 6)
    expect(seqs(seen.received)).toEqual([1, 2, 3, 4, 5, 1])
    expect(discontinuities(seen.received)).toEqual([5])
  })

  it('stops delivering to an unsubscribed listener and drops the channel with the last one', async () => {
    const key = nextStream()
    const { fanout, leases, publisher } = node('node-a')
    const one = await collect(fanout, key)
    const two = await collect(fanout, key)
    const lease = await leases.tryAcquire(key)
    await one.unsubscribe()
    await fanout.publish(lease!, { kind: 'end', code: 'SLOW_CONSUMER' })
    await until(() => two.received.length === 1)
    expect(one.received).toEqual([])

    const numsub = async () => ((await publisher.pubsub('NUMSUB', redisKeys().channel(key))) as [string, number])[1]
    expect(await numsub()).toBe(1)
    await two.unsubscribe()
    const deadline = Date.now() + 2000
    while ((await numsub()) !== 0 && Date.now() < deadline) await sleep(10)
    expect(await numsub()).toBe(0)
  })

  it('unsubscribes and stops cleanly while the subscriber connection is down', async () => {
    const key = nextStream()
    // Without an offline queue, commands sent during the outage fail at once.
    const subscriber = connectRedis(server.url, { enableOfflineQueue: false, retryStrategy: () => 200 })
    clients.push(subscriber)
    await until(() => subscriber.status === 'ready')
    const fanout = createRedisFanOut({ publisher: client(), subscriber })
    let reconnects = 0
    fanout.onReconnect(() => reconnects++)
    const one = await collect(fanout, key)
    await collect(fanout, `${key}.other`)
    const numsub = async (channel: string) =>
      ((await client().pubsub('NUMSUB', redisKeys().channel(channel))) as [string, number])[1]

    subscriber.disconnect(true)
    await until(() => subscriber.status === 'reconnecting')
    await one.unsubscribe()
    await until(() => reconnects === 1)
    await sleep(50)
    expect(await numsub(key)).toBe(0)
    expect(await numsub(`${key}.other`)).toBe(1)

    subscriber.disconnect(true)
    await until(() => subscriber.status === 'reconnecting')
    await fanout.stop()
    await until(() => subscriber.status === 'ready')
    await sleep(100)
    expect(await numsub(`${key}.other`)).toBe(0)
  })

  it('keeps delivering to other listeners when one throws, and reports the error', async () => {
    const key = nextStream()
    const errors: unknown[] = []
    const { fanout, leases } = node('node-a', (error) => errors.push(error))
    await fanout.subscribe(key, () => {
      throw new Error('listener failed')
    })
    const healthy = await collect(fanout, key)
    const lease = await leases.tryAcquire(key)
    await fanout.publish(lease!, { kind: 'end', code: 'SLOW_CONSUMER' })
    await until(() => healthy.received.length === 1)
    expect(errors).toEqual([new Error('listener failed')])
  })
})
