/**
 * Resuming change streams through the driver: resume options and their conflicts, resumable errors (a
 * failCommand failpoint, a primary step-down) with nothing lost or repeated, history lost, and many streams
 * and clients at once. Everything outside describeEmbeddedOnly passes against MongoDB 7 too.
 */
import {
  MongoClient,
  MongoServerError,
  type ChangeStream,
  type ChangeStreamOptions,
  type Collection,
  type Document,
} from 'mongodb'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { describeEmbeddedOnly, startMongo, type MongoTarget } from '../fixtures/mongo.js'

const AWAIT = { maxAwaitTimeMS: 200 }
let counter = 0

/** A new stream, opened on the server (so it sees every later write) before this returns. */
async function opened(coll: Collection | MongoClient): Promise<ChangeStream> {
  const stream = coll.watch([], AWAIT)
  expect(await stream.tryNext()).toBeNull()
  return stream
}

/** A stream from a resume point: its first events may already be there. */
const resumed = (coll: Collection, options: ChangeStreamOptions) => coll.watch([], { ...AWAIT, ...options })

async function take(stream: ChangeStream, n: number): Promise<Document[]> {
  const events: Document[] = []
  while (events.length < n) events.push(await stream.next())
  return events
}

const ids = (events: Document[]) => events.map((e) => e.documentKey?._id)
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i)

async function insertRange(coll: Collection, from: number, to: number): Promise<void> {
  for (const n of range(from, to)) await coll.insertOne({ _id: n as never, n })
}

async function failure(promise: Promise<unknown>): Promise<MongoServerError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(MongoServerError)
  return error as MongoServerError
}

describe('resuming change streams', () => {
  let mongo: MongoTarget
  beforeAll(async () => {
    mongo = await startMongo()
  })
  afterAll(async () => {
    await mongo?.stop()
  })
  const fresh = () => mongo.db.collection(`resume_${++counter}`)

  it('resumeAfter an event delivers every later event, and nothing before', async () => {
    const coll = fresh()
    const first = await opened(coll)
    await insertRange(coll, 1, 4)
    const [one] = await take(first, 1)
    await first.close()
    await insertRange(coll, 4, 6)
    const again = resumed(coll, { resumeAfter: one._id })
    expect(ids(await take(again, 4))).toEqual([2, 3, 4, 5])
    await again.close()
  })

  it('resumes from the token of an empty batch without missing later events', async () => {
    const coll = fresh()
    await insertRange(coll, 1, 3)
    const idle = await opened(coll)
    expect(await idle.tryNext()).toBeNull()
    const mark = idle.resumeToken
    await idle.close()
    await insertRange(coll, 3, 5)
    const again = resumed(coll, { resumeAfter: mark })
    expect(ids(await take(again, 2))).toEqual([3, 4])
    await again.close()
  })

  it('startAtOperationTime delivers events from that cluster time on', async () => {
    const coll = fresh()
    const watcher = await opened(coll)
    await insertRange(coll, 1, 4)
    const events = await take(watcher, 3)
    await watcher.close()
    const fromSecond = resumed(coll, { startAtOperationTime: events[1].clusterTime })
    expect(ids(await take(fromSecond, 2))).toEqual([2, 3])
    await fromSecond.close()
  })

  it('startAfter an invalidate starts a new stream after it; resumeAfter it is refused', async () => {
    const coll = fresh()
    await coll.insertOne({ _id: 0 as never })
    const stream = await opened(coll)
    await coll.drop()
    const [, invalidate] = await take(stream, 2)
    expect(invalidate.operationType).toBe('invalidate')
    await stream.close()

    await coll.insertOne({ _id: 1 as never })
    const after = resumed(coll, { startAfter: invalidate._id })
    expect(ids(await take(after, 1))).toEqual([1])
    await after.close()

    const refused = await failure(coll.watch([], { resumeAfter: invalidate._id }).next())
    expect(refused.code).toBe(260)
  })

  it('refuses conflicting start options as MongoDB does', async () => {
    const coll = fresh()
    const probe = await opened(coll)
    const token = probe.resumeToken
    await probe.close()
    const time = (await mongo.db.command({ ping: 1 })).operationTime
    const both = await failure(coll.watch([], { resumeAfter: token, startAfter: token }).next())
    expect(both.code).toBe(50865)
    const withTime = await failure(coll.watch([], { resumeAfter: token, startAtOperationTime: time }).next())
    expect(withTime.code).toBe(40674)
    const malformed = await failure(coll.watch([], { resumeAfter: { _data: 'xyz' } }).next())
    expect(malformed.code).toBe(9)
  })

  it('resumes across a resumable getMore error without losing or repeating events', async (ctx) => {
    const admin = mongo.client.db('admin')
    const supported = await admin
      .command({ configureFailPoint: 'failCommand', mode: 'off' })
      .then(() => true)
      .catch(() => false)
    if (!supported) ctx.skip('this server does not accept failpoints (enableTestCommands is off)')

    const coll = fresh()
    const stream = await opened(coll)
    await insertRange(coll, 1, 6)
    expect(ids(await take(stream, 5))).toEqual([1, 2, 3, 4, 5])
    await admin.command({
      configureFailPoint: 'failCommand',
      mode: { times: 1 },
      data: { failCommands: ['getMore'], errorCode: 6, errorLabels: ['ResumableChangeStreamError'] },
    })
    try {
      await insertRange(coll, 6, 11)
      expect(ids(await take(stream, 5))).toEqual([6, 7, 8, 9, 10])
    } finally {
      const off = await admin.command({ configureFailPoint: 'failCommand', mode: 'off' })
      expect(off.count).toBe(1)
    }
    await stream.close()
  })

  it('delivers a backlog of 2,500 events once and in order, and resumes exactly after any of them', async () => {
    const coll = fresh()
    const stream = await opened(coll)
    for (let chunk = 0; chunk < 2500; chunk += 500) {
      await coll.insertMany(range(chunk, chunk + 500).map((n) => ({ _id: n as never, n })))
    }
    // The embedded server splits the backlog into replies of at most 1,000 events: look around their edges.
    const probes = [0, 998, 999, 1000, 1999, 2000, 2498]
    const tokens = new Map<number, unknown>()
    const events: Document[] = []
    while (events.length < 2500) {
      events.push(await stream.next())
      if (probes.includes(events.length - 1)) tokens.set(events.length - 1, stream.resumeToken)
    }
    await stream.close()
    expect(ids(events)).toEqual(range(0, 2500))
    for (const at of probes) {
      const again = resumed(coll, { resumeAfter: tokens.get(at) as Document })
      expect(ids([await again.next()])).toEqual([at + 1])
      await again.close()
    }
  })

  it('delivers every event in order to 50 streams on 5 clients while 500 documents are inserted', async () => {
    const coll = fresh()
    const clients = await Promise.all(range(0, 5).map(() => new MongoClient(mongo.uri).connect()))
    try {
      const streams = await Promise.all(
        range(0, 50).map((i) =>
          opened(clients[i % clients.length].db(mongo.db.databaseName).collection(coll.collectionName)),
        ),
      )
      const readers = streams.map((stream) => take(stream, 500))
      for (let chunk = 0; chunk < 500; chunk += 50) {
        await coll.insertMany(range(chunk, chunk + 50).map((n) => ({ _id: n as never, n })))
      }
      const expected = range(0, 500)
      for (const events of await Promise.all(readers)) expect(ids(events)).toEqual(expected)
      await Promise.all(streams.map((s) => s.close()))
    } finally {
      await Promise.all(clients.map((c) => c.close()))
    }
  })
})

describeEmbeddedOnly('resuming change streams on the embedded server', () => {
  it('keeps delivering every event exactly once across primary step-downs', async () => {
    const mongo = await startMongo()
    const client = new MongoClient(mongo.uri, { monitorCommands: true })
    const interrupted: number[] = []
    client.on('commandFailed', (e) => {
      if (e.commandName === 'getMore') interrupted.push((e.failure as MongoServerError).code as number)
    })
    try {
      await client.connect()
      const coll = client.db(mongo.db.databaseName).collection('stepdown')
      const stream = await opened(coll)
      const reader = take(stream, 300)
      for (let n = 0; n < 300; n++) {
        await mongo.db.collection('stepdown').insertOne({ _id: n as never, n })
        if (n % 75 === 40) mongo.embedded!.stepDown()
      }
      expect(ids(await reader)).toEqual(range(0, 300))
      expect(interrupted.length).toBeGreaterThanOrEqual(1)
      expect(new Set(interrupted)).toEqual(new Set([11602]))
      await stream.close()
    } finally {
      await client.close()
      await mongo.stop()
    }
  })

  it('reports history lost when resuming from before the retained oplog', async () => {
    const mongo = await startMongo({ oplogMaxEntries: 10 })
    try {
      const coll = mongo.db.collection('short')
      const stream = await opened(coll)
      await coll.insertOne({ _id: 0 as never })
      const [first] = await take(stream, 1)
      await stream.close()
      await insertRange(coll, 1, 30)
      const lost = await failure(coll.watch([], { resumeAfter: first._id }).next())
      expect(lost.code).toBe(286)
      expect(lost.hasErrorLabel('NonResumableChangeStreamError')).toBe(true)
      const fromTime = await failure(coll.watch([], { startAtOperationTime: first.clusterTime }).next())
      expect(fromTime.code).toBe(286)
    } finally {
      await mongo.stop()
    }
  })

  it('fails a stream that falls behind the retained oplog instead of skipping events', async () => {
    const mongo = await startMongo({ oplogMaxEntries: 10 })
    try {
      const coll = mongo.db.collection('behind')
      const stream = await opened(coll)
      await insertRange(coll, 0, 30)
      const behind = await failure(stream.next())
      expect(behind.code).toBe(286)
      await stream.close()
    } finally {
      await mongo.stop()
    }
  })
})
