/**
 * A node's view of a shared stream it does not own: messages arrive from the Redis channel, and whatever the
 * channel lost is read from MongoDB. The channel is replaced by a hand-fed one so a test can lose exactly the
 * message a failover or a moving sharded subscription loses.
 */
import type { Document } from 'mongodb'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createClusterStream } from '../../src/cluster/cluster-stream.js'
import type { LeaseManager } from '../../src/cluster/lease-manager.js'
import type { PositionStore } from '../../src/cluster/position-store.js'
import type { EnvelopeListener, RedisFanOut } from '../../src/cluster/redis-fanout.js'
import type { StreamMessage } from '../../src/fanout/types.js'
import { positionFromEvent, type Position } from '../../src/mongo/position.js'
import { createEventCache } from '../../src/streams/stream-event.js'
import { startMongo, type MongoTarget } from '../fixtures/mongo.js'

let mongo: MongoTarget
const stops: (() => Promise<unknown>)[] = []

beforeAll(async () => {
  mongo = await startMongo()
}, 60_000)

afterEach(async () => {
  for (const stop of stops.splice(0)) await stop().catch(() => undefined)
})

afterAll(async () => {
  await mongo?.stop()
})

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const EPOCH = 7

/** A stream owned by another node (the lease is never free), fed by the test instead of Redis. */
async function watchAsNonOwner(collectionName: string) {
  const collection = mongo.db.collection(collectionName)
  let listener: EnvelopeListener | undefined
  const fanout: RedisFanOut = {
    publish: () => Promise.reject(new Error('not the owner')),
    subscribe: async (_key, onMessage) => {
      listener = onMessage
      return async () => undefined
    },
    onReconnect: () => () => undefined,
    refresh: async () => undefined,
    stop: async () => undefined,
  }
  const leases: LeaseManager = {
    tryAcquire: async () => undefined,
    owner: async (streamKey) => ({ streamKey, nodeId: 'node-owner', epoch: EPOCH }),
    stop: async () => undefined,
  }
  const positions: PositionStore = {
    save: async () => false,
    load: async () => undefined,
    clear: async () => false,
  }
  const now = async (): Promise<Position> => {
    const reply: Document = await mongo.db.command({ ping: 1 })
    const time = (reply.operationTime ?? reply.$clusterTime?.clusterTime) as { high: number; low: number }
    return { kind: 'time', time: { t: time.high, i: time.low } }
  }
  const applied: string[] = []
  const stream = createClusterStream({
    key: `${mongo.db.databaseName}.${collectionName}`,
    collection: collectionName,
    mongoCollection: collection,
    nodeId: 'node-b',
    parse: createEventCache(() => null),
    observer: { onEvent: () => applied.push('event') },
    cluster: { fanout, leases, positions, now, othersInterested: async () => true },
  })
  stops.push(() => stream.stop())
  await stream.ready
  const feed = (seq: number, message: StreamMessage) => listener!(message, { seq, epoch: EPOCH, nodeId: 'node-owner' })
  return { collection, stream, feed, applied }
}

/** The change events of `count` inserts, as the owner's change stream read them. */
async function insertAndRead(collectionName: string, count: number): Promise<Document[]> {
  const watcher = mongo.db.collection(collectionName).watch([], { fullDocument: 'whenAvailable', fullDocumentBeforeChange: 'whenAvailable' })
  const events: Document[] = []
  try {
    await watcher.tryNext()
    for (let n = 1; n <= count; n++) await mongo.db.collection(collectionName).insertOne({ n })
    while (events.length < count) {
      const event = await watcher.tryNext()
      if (event) events.push(event)
    }
  } finally {
    await watcher.close()
  }
  return events
}

describe('a shared stream filling what its channel lost', () => {
  it('reads the last event from MongoDB when its message was lost and the owner\'s heartbeat carries its position', async () => {
    const { stream, feed, applied } = await watchAsNonOwner('heartbeat_gap')
    const events = await insertAndRead('heartbeat_gap', 3)
    feed(1, { kind: 'event', raw: events[0] })
    feed(2, { kind: 'event', raw: events[1] })
    // Message 3, the third event, is lost; the owner's heartbeat names the position of the last event it read.
    const last = positionFromEvent(events[2] as Document & { _id: { _data: string } })
    feed(4, { kind: 'position', position: last })
    const deadline = Date.now() + 10_000
    while (applied.length < 3 && Date.now() < deadline) await sleep(25)
    expect(applied).toHaveLength(3)
    expect(stream.position()).toEqual(last)
    // The lost message arriving late changes nothing.
    feed(3, { kind: 'event', raw: events[2] })
    await sleep(100)
    expect(applied).toHaveLength(3)
  })

  it('reads lost events from MongoDB up to, not including, the next event message', async () => {
    const { stream, feed, applied } = await watchAsNonOwner('event_gap')
    const events = await insertAndRead('event_gap', 4)
    feed(1, { kind: 'event', raw: events[0] })
    // Messages 2 and 3 are lost.
    feed(4, { kind: 'event', raw: events[3] })
    const deadline = Date.now() + 10_000
    while (applied.length < 4 && Date.now() < deadline) await sleep(25)
    expect(applied).toHaveLength(4)
    expect(stream.position()).toEqual(positionFromEvent(events[3] as Document & { _id: { _data: string } }))
    await sleep(100)
    expect(applied).toHaveLength(4)
  })
})
