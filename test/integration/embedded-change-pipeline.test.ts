/**
 * Stages after `$changeStream` through the driver: the ones MongoDB allows shape and filter events, the
 * others are refused, and a stage that changes the resume token fails the stream. Passes against MongoDB 7 too.
 */
import { Decimal128, Long, MongoServerError, ObjectId, type ChangeStream, type Document } from 'mongodb'
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
const fresh = () => mongo.db.collection<{ _id: number } & Document>(`pipeline_${++counter}`)

async function opened(stream: ChangeStream): Promise<ChangeStream> {
  expect(await stream.tryNext()).toBeNull()
  return stream
}

async function take(stream: ChangeStream, n: number): Promise<Document[]> {
  const events: Document[] = []
  while (events.length < n) events.push(await stream.next())
  return events
}

async function failure(stream: ChangeStream): Promise<MongoServerError> {
  const error = await stream.next().then(
    () => undefined,
    (e: unknown) => e,
  )
  await stream.close()
  expect(error).toBeInstanceOf(MongoServerError)
  return error as MongoServerError
}

describe('stages after $changeStream', () => {
  it('filters events with $match on BSON values as MongoDB compares them', async () => {
    const coll = fresh()
    const customer = new ObjectId()
    const stream = await opened(
      coll.watch(
        [
          {
            $match: {
              operationType: { $in: ['insert', 'update'] },
              'fullDocument.customerId': customer,
              'fullDocument.total': { $gte: 100 },
              'fullDocument.views': { $lt: Long.fromNumber(50) },
              'fullDocument.price': { $gt: Decimal128.fromString('9.99') },
              'fullDocument.createdAt': { $gte: new Date('2024-01-01T00:00:00Z') },
            },
          },
        ],
        { maxAwaitTimeMS: 200, fullDocument: 'updateLookup' },
      ),
    )
    const base = {
      customerId: customer,
      total: 150,
      views: Long.fromNumber(3),
      price: Decimal128.fromString('10.50'),
      createdAt: new Date('2024-06-01T00:00:00Z'),
    }
    await coll.insertMany([
      { _id: 1, ...base },
      { _id: 2, ...base, customerId: new ObjectId() },
      { _id: 3, ...base, total: 99.5 },
      { _id: 4, ...base, views: Long.fromNumber(50) },
      { _id: 5, ...base, price: Decimal128.fromString('9.99') },
      { _id: 6, ...base, createdAt: new Date('2023-12-31T23:59:59Z') },
      { _id: 7, ...base, total: 100 },
    ])
    await coll.updateOne({ _id: 3 }, { $set: { total: 120 } })
    await coll.deleteOne({ _id: 1 })
    await coll.insertOne({ _id: 8, ...base })
    const events = await take(stream, 4)
    expect(events.map((e) => `${e.operationType}:${e.documentKey._id}`)).toEqual(['insert:1', 'insert:7', 'update:3', 'insert:8'])
    await stream.close()
  })

  it('reshapes events with $project, $addFields, $set, $unset, $replaceRoot and $redact, keeping _id', async () => {
    const coll = fresh()
    const stream = await opened(
      coll.watch(
        [
          { $match: { operationType: 'insert' } },
          { $addFields: { 'fullDocument.seen': true, kind: '$operationType' } },
          { $set: { size: { $size: '$fullDocument.items' } } },
          { $unset: ['fullDocument.secret'] },
          { $project: { fullDocument: 1, kind: 1, size: 1 } },
          { $redact: { $cond: [{ $eq: ['$fullDocument.hidden', true] }, '$$PRUNE', '$$KEEP'] } },
          { $replaceRoot: { newRoot: { _id: '$_id', doc: '$fullDocument', kind: '$kind', size: '$size' } } },
        ],
        { maxAwaitTimeMS: 200 },
      ),
    )
    await coll.insertOne({ _id: 1, items: [1, 2], secret: 's' })
    await coll.insertOne({ _id: 2, items: [], hidden: true })
    await coll.insertOne({ _id: 3, items: [7] })
    const events = await take(stream, 2)
    expect(events.map((e) => ({ ...e, _id: typeof e._id._data }))).toEqual([
      { _id: 'string', doc: { _id: 1, items: [1, 2], seen: true }, kind: 'insert', size: 2 },
      { _id: 'string', doc: { _id: 3, items: [7], seen: true }, kind: 'insert', size: 1 },
    ])
    await stream.close()
  })

  it('keeps the projected fields in the order of the event', async () => {
    const coll = fresh()
    const stream = await opened(coll.watch([{ $project: { documentKey: 1, operationType: 1 } }], { maxAwaitTimeMS: 200 }))
    await coll.insertOne({ _id: 1 })
    const [event] = await take(stream, 1)
    expect(Object.keys(event)).toEqual(['_id', 'operationType', 'documentKey'])
    await stream.close()
  })

  it('refuses stages a change stream does not allow', async () => {
    const coll = fresh()
    for (const [stage, name] of [
      [{ $group: { _id: '$operationType' } }, '$group'],
      [{ $sort: { clusterTime: 1 } }, '$sort'],
      [{ $limit: 5 }, '$limit'],
      [{ $skip: 1 }, '$skip'],
      [{ $unwind: '$fullDocument.items' }, '$unwind'],
      [{ $lookup: { from: 'x', localField: 'a', foreignField: 'b', as: 'c' } }, '$lookup'],
    ] as const) {
      const error = await failure(coll.watch([stage]))
      expect(error.code, name).toBe(20)
      expect(error.message).toContain(`${name} is not permitted in a $changeStream pipeline`)
    }
    expect((await failure(coll.watch([{ $frobnicate: {} }]))).code).toBe(40324)
  })

  it('fails the stream when a stage changes or removes the resume token', async () => {
    const coll = fresh()
    const removed = await opened(coll.watch([{ $project: { _id: 0 } }], { maxAwaitTimeMS: 200 }))
    const replaced = await opened(coll.watch([{ $replaceRoot: { newRoot: '$fullDocument' } }], { maxAwaitTimeMS: 200 }))
    await coll.insertOne({ _id: 1 })
    for (const stream of [removed, replaced]) {
      const error = await failure(stream)
      expect(error.code).toBe(280)
      expect(error.message).toContain('resume token')
    }
  })
})
