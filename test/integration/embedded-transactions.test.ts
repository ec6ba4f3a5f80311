/**
 * Multi-document transactions through the driver: isolation, commit and abort, write conflicts, and how a
 * committed transaction appears in change streams. Passes against MongoDB 7 too.
 */
import { MongoServerError, type ChangeStream, type Collection, type Document } from 'mongodb'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startMongo, type MongoTarget } from '../fixtures/mongo.js'

let mongo: MongoTarget
beforeAll(async () => {
  mongo = await startMongo()
})
afterAll(async () => {
  await mongo?.stop()
})

let counter = 0
async function collection(options: Document = {}): Promise<Collection> {
  return mongo.db.createCollection(`txn_${++counter}`, options)
}

async function watch(coll: Collection, options: Document = {}): Promise<ChangeStream> {
  const stream = coll.watch([], { maxAwaitTimeMS: 100, ...options })
  // Opens the stream now, so it starts before the writes that follow (a resumed stream has its position).
  if (!options.resumeAfter) await stream.tryNext()
  return stream
}

async function take(stream: ChangeStream, n: number): Promise<Document[]> {
  const events: Document[] = []
  while (events.length < n) events.push(await stream.next())
  return events
}

describe('transactions', () => {
  it('commits atomically: invisible to others until commit, one event per statement at one cluster time', async () => {
    const coll = await collection()
    await coll.insertOne({ _id: 1 as never, v: 0 })
    const stream = await watch(coll)
    const session = mongo.client.startSession()
    try {
      session.startTransaction()
      await coll.insertOne({ _id: 2 as never, v: 1 }, { session })
      await coll.updateOne({ _id: 1 as never }, { $set: { v: 5 } }, { session })
      await coll.deleteOne({ _id: 2 as never }, { session })
      await coll.insertOne({ _id: 3 as never, v: 3 }, { session })
      // The transaction sees its own writes; nobody else does.
      expect(await coll.find({}, { session }).sort({ _id: 1 }).toArray()).toEqual([{ _id: 1, v: 5 }, { _id: 3, v: 3 }])
      expect(await coll.find().sort({ _id: 1 }).toArray()).toEqual([{ _id: 1, v: 0 }])
      expect(await stream.tryNext()).toBeNull()
      await session.commitTransaction()
    } finally {
      await session.endSession()
    }
    expect(await coll.find().sort({ _id: 1 }).toArray()).toEqual([{ _id: 1, v: 5 }, { _id: 3, v: 3 }])
    const events = await take(stream, 4)
    await stream.close()
    expect(events.map((e) => [e.operationType, e.documentKey._id])).toEqual([
      ['insert', 2],
      ['update', 1],
      ['delete', 2],
      ['insert', 3],
    ])
    const lsidId = session.id!.id
    for (const event of events) {
      expect(event.clusterTime.equals(events[0].clusterTime)).toBe(true)
      expect(Number(event.txnNumber)).toBe(1)
      expect(event.lsid.id.toString('hex')).toBe(lsidId.toString('hex'))
    }
    const tokens = events.map((e) => e._id._data as string)
    expect([...tokens].sort()).toEqual(tokens)
  })

  it('an aborted transaction changes nothing and emits nothing', async () => {
    const coll = await collection()
    const stream = await watch(coll)
    const session = mongo.client.startSession()
    try {
      session.startTransaction()
      await coll.insertMany([{ _id: 1 as never }, { _id: 2 as never }], { session })
      await session.abortTransaction()
    } finally {
      await session.endSession()
    }
    await coll.insertOne({ _id: 'after' as never })
    const [first] = await take(stream, 1)
    await stream.close()
    expect(first.documentKey).toEqual({ _id: 'after' })
    expect(await coll.countDocuments()).toBe(1)
  })

  it('reads from a snapshot taken when the transaction started', async () => {
    const coll = await collection()
    await coll.insertOne({ _id: 1 as never, v: 1 })
    const session = mongo.client.startSession()
    try {
      session.startTransaction()
      expect(await coll.findOne({ _id: 1 as never }, { session })).toEqual({ _id: 1, v: 1 })
      await coll.updateOne({ _id: 1 as never }, { $set: { v: 2 } })
      await coll.insertOne({ _id: 2 as never, v: 2 })
      expect(await coll.find({}, { session }).toArray()).toEqual([{ _id: 1, v: 1 }])
      await session.commitTransaction()
    } finally {
      await session.endSession()
    }
  })

  it('fails the second writer of a document with WriteConflict 112, labelled TransientTransactionError', async () => {
    const coll = await collection()
    await coll.insertOne({ _id: 1 as never, v: 0 })
    const first = mongo.client.startSession()
    const second = mongo.client.startSession()
    try {
      first.startTransaction()
      second.startTransaction()
      await coll.updateOne({ _id: 1 as never }, { $inc: { v: 1 } }, { session: first })
      const error = await coll.updateOne({ _id: 1 as never }, { $inc: { v: 10 } }, { session: second }).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(MongoServerError)
      expect(error).toMatchObject({ code: 112, codeName: 'WriteConflict' })
      expect((error as MongoServerError).hasErrorLabel('TransientTransactionError')).toBe(true)
      // The conflict aborted the second transaction: its next statement finds no transaction.
      const next = await coll.findOne({}, { session: second }).catch((e: unknown) => e)
      expect(next).toMatchObject({ code: 251, codeName: 'NoSuchTransaction' })
      expect((next as MongoServerError).hasErrorLabel('TransientTransactionError')).toBe(true)
      await second.abortTransaction().catch(() => undefined)
      await first.commitTransaction()
    } finally {
      await first.endSession()
      await second.endSession()
    }
    expect(await coll.findOne({ _id: 1 as never })).toEqual({ _id: 1, v: 1 })
  })

  it('withTransaction retries a transaction that lost a write conflict', async () => {
    const coll = await collection()
    await coll.insertOne({ _id: 1 as never, v: 0 })
    const session = mongo.client.startSession()
    let attempts = 0
    try {
      await session.withTransaction(async () => {
        attempts++
        await coll.findOne({ _id: 1 as never }, { session })
        // Someone else changes the document after this transaction's snapshot.
        if (attempts === 1) await coll.updateOne({ _id: 1 as never }, { $inc: { v: 100 } })
        await coll.updateOne({ _id: 1 as never }, { $inc: { v: 1 } }, { session })
      })
    } finally {
      await session.endSession()
    }
    expect(attempts).toBe(2)
    expect(await coll.findOne({ _id: 1 as never })).toEqual({ _id: 1, v: 101 })
  })

  it('a write outside transactions waits for the transaction holding the document', async () => {
    const coll = await collection()
    await coll.insertOne({ _id: 1 as never, v: 0 })
    const session = mongo.client.startSession()
    try {
      session.startTransaction()
      await coll.updateOne({ _id: 1 as never }, { $set: { v: 1 } }, { session })
      const outside = coll.updateOne({ _id: 1 as never }, { $inc: { v: 10 } })
      await new Promise((resolve) => setTimeout(resolve, 100))
      await session.commitTransaction()
      await outside
    } finally {
      await session.endSession()
    }
    expect(await coll.findOne({ _id: 1 as never })).toEqual({ _id: 1, v: 11 })
  })

  it('resuming from the token of an event inside a transaction yields exactly the rest of it', async () => {
    const coll = await collection()
    const stream = await watch(coll)
    const session = mongo.client.startSession()
    try {
      await session.withTransaction(async () => {
        for (let i = 1; i <= 5; i++) await coll.insertOne({ _id: i as never }, { session })
      })
    } finally {
      await session.endSession()
    }
    const events = await take(stream, 5)
    await stream.close()
    const resumed = await watch(coll, { resumeAfter: events[1]._id })
    const rest = await take(resumed, 3)
    await coll.insertOne({ _id: 'after' as never })
    const [after] = await take(resumed, 1)
    await resumed.close()
    expect(rest.map((e) => e._id)).toEqual(events.slice(2).map((e) => e._id))
    expect(rest.map((e) => e.documentKey._id)).toEqual([3, 4, 5])
    expect(after.documentKey._id).toBe('after')
  })

  it('records pre- and post-images for each update inside a transaction', async () => {
    const coll = await collection({ changeStreamPreAndPostImages: { enabled: true } })
    await coll.insertOne({ _id: 1 as never, v: 1 })
    const stream = await watch(coll, { fullDocument: 'required', fullDocumentBeforeChange: 'required' })
    const session = mongo.client.startSession()
    try {
      await session.withTransaction(async () => {
        await coll.updateOne({ _id: 1 as never }, { $set: { v: 2 } }, { session })
        await coll.updateOne({ _id: 1 as never }, { $set: { v: 3 } }, { session })
      })
    } finally {
      await session.endSession()
    }
    const events = await take(stream, 2)
    await stream.close()
    expect(events.map((e) => [e.fullDocumentBeforeChange.v, e.fullDocument.v])).toEqual([
      [1, 2],
      [2, 3],
    ])
    expect(events[1].updateDescription.updatedFields).toEqual({ v: 3 })
  })

  it('refuses commands a transaction cannot run, and unknown transaction numbers', async () => {
    const coll = await collection()
    const session = mongo.client.startSession()
    try {
      session.startTransaction()
      await coll.insertOne({ _id: 1 as never }, { session })
      const error = await mongo.db.command({ count: coll.collectionName }, { session }).catch((e: unknown) => e)
      expect(error).toMatchObject({ code: 263, codeName: 'OperationNotSupportedInTransaction' })
      await session.abortTransaction().catch(() => undefined)
    } finally {
      await session.endSession()
    }
    expect(await coll.countDocuments()).toBe(0)
  })
})
