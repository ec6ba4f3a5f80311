import { Binary, Decimal128, Double, Int32, Long, ObjectId, Timestamp, type Collection, type Document } from 'mongodb'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { startMongo, type MongoTarget } from '../fixtures/mongo.js'

let mongo: MongoTarget
let seq = 0
let coll: Collection

beforeAll(async () => {
  mongo = await startMongo()
})
afterAll(async () => {
  await mongo?.stop()
})
beforeEach(() => {
  coll = mongo.db.collection(`c${seq++}`)
})

const noIds = { projection: { _id: 0 } }

describe('insert', () => {
  it('generates an ObjectId _id placed first and keeps field order', async () => {
    const result = await coll.insertOne({ b: 1, a: 2 } as Document, { forceServerObjectId: true })
    expect(result.acknowledged).toBe(true)
    const [doc] = await coll.find().toArray()
    expect(Object.keys(doc)).toEqual(['_id', 'b', 'a'])
    expect(doc._id).toBeInstanceOf(ObjectId)
  })

  it('moves a given _id to the front', async () => {
    await coll.insertOne({ x: 1, _id: 'k' } as Document)
    const doc = await coll.findOne({ _id: 'k' } as Document)
    expect(Object.keys(doc!)).toEqual(['_id', 'x'])
  })

  it('reports duplicate _id as E11000 and stops an ordered batch', async () => {
    const error = await coll
      .insertMany([{ _id: 1 }, { _id: 1 }, { _id: 2 }] as Document[])
      .catch((e: unknown) => e as { code: number; result: { insertedCount: number }; writeErrors: Array<{ index: number }> })
    expect(error).toMatchObject({ code: 11000 })
    expect(await coll.countDocuments()).toBe(1)
  })

  it('continues an unordered batch past errors and reports each', async () => {
    const error = (await coll
      .insertMany([{ _id: 1 }, { _id: 1 }, { _id: 2 }, { _id: 2 }] as Document[], { ordered: false })
      .catch((e: unknown) => e)) as { code: number; writeErrors: Array<{ index: number; code: number }> }
    expect(error.code).toBe(11000)
    expect(error.writeErrors.map((e) => e.index)).toEqual([1, 3])
    expect(await coll.countDocuments()).toBe(2)
  })
})

describe('BSON types', () => {
  it('round-trips every type without changing it', async () => {
    const doc = {
      _id: new ObjectId(),
      int: new Int32(7),
      long: Long.fromString('9007199254740993'),
      double: new Double(2),
      fraction: 2.5,
      dec: Decimal128.fromString('12.345'),
      date: new Date('2024-01-02T03:04:05.678Z'),
      bin: new Binary(Buffer.from([1, 2, 3]), 0),
      ts: new Timestamp({ t: 100, i: 3 }),
      str: 'héllo',
      bool: false,
      nil: null,
      nested: { arr: [1, [2, { deep: new Int32(3) }]], empty: {} },
      regex: /ab+c/i,
    }
    await coll.insertOne(doc)
    const raw = await coll.findOne({ _id: doc._id }, { promoteValues: false, promoteLongs: false })
    expect(raw!.int).toBeInstanceOf(Int32)
    expect(raw!.long).toBeInstanceOf(Long)
    expect(raw!.long.toString()).toBe('9007199254740993')
    expect(raw!.double).toBeInstanceOf(Double)
    expect(raw!.double.value).toBe(2)
    expect(raw!.fraction).toBeInstanceOf(Double)
    expect(raw!.dec.toString()).toBe('12.345')
    const promoted = await coll.findOne({ _id: doc._id })
    expect(promoted).toEqual({ ...doc, int: 7, double: 2, nested: { arr: [1, [2, { deep: 3 }]], empty: {} } })
    expect([...(promoted!.bin as Binary).buffer]).toEqual([1, 2, 3])
  })

  it('matches and sorts numbers across Int32, Long and Double', async () => {
    await coll.insertMany([{ v: new Int32(5) }, { v: Long.fromNumber(3) }, { v: new Double(4) }, { v: 1.5 }])
    const found = await coll.find({ v: { $gte: 3 } }, noIds).sort({ v: -1 }).toArray()
    expect(found.map((d) => Number(d.v))).toEqual([5, 4, 3])
    expect(await coll.countDocuments({ v: 4 })).toBe(1)
  })

  it('keeps Long and Double types through $inc', async () => {
    await coll.insertOne({ _id: 1, l: Long.fromNumber(10), d: new Double(1) } as Document)
    await coll.updateOne({ _id: 1 } as Document, { $inc: { l: 5, d: 1 } })
    const raw = await coll.findOne({ _id: 1 } as Document, { promoteValues: false })
    expect(raw!.l).toBeInstanceOf(Long)
    expect(raw!.l.toNumber()).toBe(15)
    expect(raw!.d).toBeInstanceOf(Double)
    expect(raw!.d.value).toBe(2)
  })
})

describe('find', () => {
  beforeEach(async () => {
    await coll.insertMany(Array.from({ length: 250 }, (_, i) => ({ _id: i, n: i, mod: i % 7, tag: i % 2 ? 'odd' : 'even' })) as Document[])
  })

  it('filters, sorts, skips, limits and projects', async () => {
    const docs = await coll.find({ mod: 3 }, { projection: { n: 1, _id: 0 } }).sort({ n: -1 }).skip(2).limit(3).toArray()
    expect(docs).toEqual([{ n: 234 }, { n: 227 }, { n: 220 }])
  })

  it('reads in reverse natural order with $natural: -1', async () => {
    const docs = await coll.find({ mod: 0 }).sort({ $natural: -1 }).limit(2).toArray()
    expect(docs.map((d) => d._id)).toEqual([245, 238])
  })

  it('supports exclusion projections', async () => {
    const doc = await coll.findOne({ _id: 4 } as Document, { projection: { mod: 0, tag: 0 } })
    expect(doc).toEqual({ _id: 4, n: 4 })
  })

  it('returns every document across getMore batches', async () => {
    const cursor = coll.find({}, { batchSize: 7 })
    const docs = await cursor.toArray()
    expect(docs).toHaveLength(250)
    expect(new Set(docs.map((d) => d._id)).size).toBe(250)
  })

  it('kills a cursor closed early: getMore on it is CursorNotFound', async () => {
    const cursor = coll.find({}, { batchSize: 5 })
    await cursor.next()
    const id = cursor.id!
    expect(id.isZero()).toBe(false)
    await cursor.close()
    await expect(mongo.db.command({ getMore: id, collection: coll.collectionName })).rejects.toMatchObject({ code: 43, codeName: 'CursorNotFound' })
  })

  it('honours limit larger than batchSize and singleBatch-style negative limit', async () => {
    expect(await coll.find({}).limit(30).batchSize(4).toArray()).toHaveLength(30)
    expect(await coll.find({}).limit(-3).toArray()).toHaveLength(3)
  })

  it('looks documents up by _id, $in of ids and regex', async () => {
    expect(await coll.findOne({ _id: 17 } as Document)).toMatchObject({ n: 17 })
    const docs = await coll.find({ _id: { $in: [3, 1, 400] } } as Document).toArray()
    expect(docs.map((d) => d._id)).toEqual([1, 3])
    expect(await coll.countDocuments({ tag: /^od/ })).toBe(125)
  })

  it('rejects an unknown query operator with BadValue', async () => {
    await expect(coll.findOne({ n: { $bogus: 1 } })).rejects.toMatchObject({ code: 2 })
  })
})

describe('update', () => {
  beforeEach(async () => {
    await coll.insertMany([
      { _id: 1, status: 'a', qty: 1, items: [{ sku: 'x', q: 1 }, { sku: 'y', q: 5 }] },
      { _id: 2, status: 'a', qty: 2, items: [] },
      { _id: 3, status: 'b', qty: 3, items: [{ sku: 'x', q: 9 }] },
    ] as Document[])
  })

  it('updates one or many and reports matched and modified counts', async () => {
    const one = await coll.updateOne({ status: 'a' }, { $set: { flag: true } })
    expect(one).toMatchObject({ matchedCount: 1, modifiedCount: 1, upsertedCount: 0 })
    const many = await coll.updateMany({ status: 'a' }, { $set: { flag: true } })
    expect(many).toMatchObject({ matchedCount: 2, modifiedCount: 1 })
    expect(await coll.countDocuments({ flag: true })).toBe(2)
  })

  it('counts a no-op update as matched but not modified', async () => {
    const result = await coll.updateOne({ _id: 1 } as Document, { $set: { qty: 1 } })
    expect(result).toMatchObject({ matchedCount: 1, modifiedCount: 0 })
  })

  it('upserts with $setOnInsert and seeds the document from query equalities', async () => {
    const result = await coll.updateOne(
      { status: 'new', 'meta.region': 'eu', qty: { $gt: 5 } },
      { $set: { touched: true }, $setOnInsert: { createdBy: 'upsert' } },
      { upsert: true },
    )
    expect(result.upsertedCount).toBe(1)
    const doc = await coll.findOne({ _id: result.upsertedId! } as Document, noIds)
    expect(doc).toEqual({ status: 'new', meta: { region: 'eu' }, touched: true, createdBy: 'upsert' })
    const again = await coll.updateOne({ status: 'new' }, { $set: { touched: false }, $setOnInsert: { createdBy: 'other' } }, { upsert: true })
    expect(again).toMatchObject({ matchedCount: 1, modifiedCount: 1, upsertedCount: 0 })
    expect(await coll.findOne({ status: 'new' }, noIds)).toMatchObject({ createdBy: 'upsert', touched: false })
  })

  it('upserts with an _id taken from the query', async () => {
    const result = await coll.updateOne({ _id: 42 } as Document, { $inc: { qty: 1 } }, { upsert: true })
    expect(result.upsertedId).toBe(42)
    expect(await coll.findOne({ _id: 42 } as Document)).toEqual({ _id: 42, qty: 1 })
  })

  it('applies arrayFilters and the positional operator', async () => {
    await coll.updateMany({}, { $set: { 'items.$[it].q': 0 } }, { arrayFilters: [{ 'it.sku': 'x' }] })
    expect((await coll.findOne({ _id: 1 } as Document))!.items).toEqual([{ sku: 'x', q: 0 }, { sku: 'y', q: 5 }])
    expect((await coll.findOne({ _id: 3 } as Document))!.items).toEqual([{ sku: 'x', q: 0 }])
    await coll.updateOne({ _id: 1, 'items.sku': 'y' } as Document, { $inc: { 'items.$.q': 10 } })
    expect((await coll.findOne({ _id: 1 } as Document))!.items[1]).toEqual({ sku: 'y', q: 15 })
  })

  it('runs pipeline updates', async () => {
    await coll.updateOne({ _id: 2 } as Document, [{ $set: { total: { $multiply: ['$qty', 10] }, status: { $concat: ['$status', '!'] } } }])
    expect(await coll.findOne({ _id: 2 } as Document)).toMatchObject({ total: 20, status: 'a!' })
  })

  it('replaces documents keeping _id', async () => {
    const result = await coll.replaceOne({ _id: 3 } as Document, { fresh: 1 })
    expect(result).toMatchObject({ matchedCount: 1, modifiedCount: 1 })
    expect(await coll.findOne({ _id: 3 } as Document)).toEqual({ _id: 3, fresh: 1 })
  })

  it('refuses to change _id (ImmutableField 66)', async () => {
    await expect(coll.updateOne({ _id: 1 } as Document, { $set: { _id: 9 } })).rejects.toMatchObject({ code: 66 })
    await expect(coll.replaceOne({ _id: 1 } as Document, { _id: 9, a: 1 } as Document)).rejects.toMatchObject({ code: 66 })
    expect(await coll.countDocuments({ _id: 1 } as Document)).toBe(1)
  })

  it('rejects $inc of a non-numeric field with TypeMismatch', async () => {
    await expect(coll.updateOne({ _id: 1 } as Document, { $inc: { status: 1 } })).rejects.toMatchObject({ code: 14 })
  })

  it('supports array operators', async () => {
    const push: Document = { $push: { items: { $each: [{ sku: 'p' }, { sku: 'q' }] } }, $addToSet: { tags: 't' } }
    const pull: Document = { $pull: { items: { sku: 'p' } }, $addToSet: { tags: 't' } }
    await coll.updateOne({ _id: 2 } as Document, push)
    await coll.updateOne({ _id: 2 } as Document, pull)
    expect(await coll.findOne({ _id: 2 } as Document, noIds)).toEqual({ status: 'a', qty: 2, items: [{ sku: 'q' }], tags: ['t'] })
  })
})

describe('delete', () => {
  it('deletes one or many', async () => {
    await coll.insertMany([{ k: 1 }, { k: 1 }, { k: 1 }, { k: 2 }])
    expect((await coll.deleteOne({ k: 1 })).deletedCount).toBe(1)
    expect((await coll.deleteMany({ k: 1 })).deletedCount).toBe(2)
    expect((await coll.deleteMany({ k: 99 })).deletedCount).toBe(0)
    expect(await coll.find({}, noIds).toArray()).toEqual([{ k: 2 }])
  })
})

describe('findAndModify', () => {
  beforeEach(async () => {
    await coll.insertMany([
      { _id: 1, n: 1, s: 'x' },
      { _id: 2, n: 2, s: 'x' },
    ] as Document[])
  })

  it('returns the document before or after the update, honouring sort and projection', async () => {
    const before = await coll.findOneAndUpdate({ s: 'x' }, { $inc: { n: 10 } }, { sort: { n: -1 }, projection: { n: 1 } })
    expect(before).toEqual({ _id: 2, n: 2 })
    const after = await coll.findOneAndUpdate({ _id: 1 } as Document, { $inc: { n: 10 } }, { returnDocument: 'after' })
    expect(after).toEqual({ _id: 1, n: 11, s: 'x' })
  })

  it('upserts, replaces and removes', async () => {
    const upserted = await coll.findOneAndUpdate({ _id: 5 } as Document, { $set: { s: 'y' } }, { upsert: true, returnDocument: 'after', includeResultMetadata: true })
    expect(upserted.value).toEqual({ _id: 5, s: 'y' })
    expect(upserted.lastErrorObject).toMatchObject({ n: 1, updatedExisting: false, upserted: 5 })
    expect(await coll.findOneAndReplace({ _id: 5 } as Document, { s: 'z' }, { returnDocument: 'after' })).toEqual({ _id: 5, s: 'z' })
    expect(await coll.findOneAndDelete({ s: 'z' })).toEqual({ _id: 5, s: 'z' })
    expect(await coll.findOneAndDelete({ s: 'nothing' })).toBeNull()
    expect(await coll.countDocuments()).toBe(2)
  })
})

describe('count, distinct, aggregate', () => {
  beforeEach(async () => {
    await coll.insertMany([
      { _id: 1, cat: 'a', v: 10, tags: ['x', 'y'] },
      { _id: 2, cat: 'b', v: 20, tags: ['y'] },
      { _id: 3, cat: 'a', v: 30, tags: [] },
    ] as Document[])
  })

  it('counts and estimates', async () => {
    expect(await coll.countDocuments({ cat: 'a' })).toBe(2)
    expect(await coll.estimatedDocumentCount()).toBe(3)
    expect(await coll.countDocuments({}, { skip: 1, limit: 1 })).toBe(1)
  })

  it('lists distinct values, unwinding arrays', async () => {
    expect(await coll.distinct('cat')).toEqual(['a', 'b'])
    expect(await coll.distinct('tags')).toEqual(['x', 'y'])
    expect(await coll.distinct('cat', { v: { $gt: 15 } })).toEqual(['a', 'b'])
  })

  it('groups, sorts and counts', async () => {
    const grouped = await coll.aggregate([{ $group: { _id: '$cat', total: { $sum: '$v' } } }, { $sort: { _id: 1 } }]).toArray()
    expect(grouped).toEqual([
      { _id: 'a', total: 40 },
      { _id: 'b', total: 20 },
    ])
    expect(await coll.aggregate([{ $match: { v: { $gte: 20 } } }, { $count: 'n' }]).toArray()).toEqual([{ n: 2 }])
  })

  it('joins another collection of the database with $lookup', async () => {
    const other = mongo.db.collection(`${coll.collectionName}_cats`)
    await other.insertMany([{ _id: 'a', label: 'Alpha' }, { _id: 'b', label: 'Beta' }] as Document[])
    const joined = await coll
      .aggregate([{ $match: { _id: 2 } }, { $lookup: { from: other.collectionName, localField: 'cat', foreignField: '_id', as: 'c' } }, { $project: { label: { $first: '$c.label' } } }])
      .toArray()
    expect(joined).toEqual([{ _id: 2, label: 'Beta' }])
  })

  it('returns large aggregate results through getMore', async () => {
    await coll.insertMany(Array.from({ length: 300 }, (_, i) => ({ big: i })))
    const docs = await coll.aggregate([{ $match: { big: { $exists: true } } }, { $sort: { big: -1 } }], { batchSize: 50 }).toArray()
    expect(docs).toHaveLength(300)
    expect(docs[0].big).toBe(299)
  })
})

describe('concurrency', () => {
  it('lands every insert from many concurrent clients', async () => {
    const { MongoClient } = await import('mongodb')
    const clients = await Promise.all(Array.from({ length: 20 }, () => new MongoClient(mongo.uri).connect()))
    try {
      await Promise.all(
        clients.map(async (client, c) => {
          const target = client.db(mongo.db.databaseName).collection(coll.collectionName)
          for (let i = 0; i < 200; i++) await target.insertOne({ c, i })
        }),
      )
      expect(await coll.countDocuments()).toBe(4000)
      expect(await coll.countDocuments({ c: 19 })).toBe(200)
    } finally {
      await Promise.all(clients.map((client) => client.close()))
    }
  })
})
