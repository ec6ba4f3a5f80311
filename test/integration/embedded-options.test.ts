/**
 * Options the embedded server enforces (hints, TTL indexes, index-backed equality finds) and the ones it
 * refuses by name rather than accepting and ignoring (capped, timeseries, collations…).
 */
import type { ChangeStream, Document } from 'mongodb'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { describeEmbeddedOnly, startMongo, type MongoTarget } from '../fixtures/mongo.js'

let mongo: MongoTarget
beforeAll(async () => {
  mongo = await startMongo()
})
afterAll(async () => {
  await mongo?.stop()
})

let counter = 0
const name = (prefix: string) => `${prefix}_${++counter}`

describe('hints and indexed equality', () => {
  it('accepts hints naming an index and refuses hints naming none, with BadValue', async () => {
    const coll = mongo.db.collection(name('hint'))
    await coll.createIndex({ a: 1 })
    await coll.insertMany([{ a: 1 }, { a: 2 }])
    expect(await coll.find({ a: 2 }, { hint: 'a_1', projection: { _id: 0 } }).toArray()).toEqual([{ a: 2 }])
    expect(await coll.find({ a: 2 }, { hint: { a: 1 }, projection: { _id: 0 } }).toArray()).toEqual([{ a: 2 }])
    const missing = { code: 2, message: /hint provided does not correspond to an existing index/ }
    await expect(coll.find({ a: 2 }, { hint: 'b_1' }).toArray()).rejects.toMatchObject(missing)
    await expect(coll.find({}, { hint: { b: 1 } }).toArray()).rejects.toMatchObject(missing)
    await expect(coll.updateOne({ a: 1 }, { $set: { b: 1 } }, { hint: 'nope' })).rejects.toMatchObject(missing)
    await expect(coll.deleteOne({ a: 1 }, { hint: 'nope' })).rejects.toMatchObject(missing)
  })

  it('finds by an indexed field what a scan finds, through updates, arrays, numbers of any type and $in', async () => {
    const coll = mongo.db.collection(name('lookup'))
    await coll.createIndex({ tenant: 1, n: 1 })
    await coll.createIndex({ tags: 1 })
    await coll.insertMany([
      { _id: 1 as never, tenant: 'a', tags: ['x', 'y'] },
      { _id: 2 as never, tenant: 'b', tags: 'x' },
      { _id: 3 as never, tenant: 'a', tags: [] },
      { _id: 4 as never, tenant: 7 },
    ])
    await coll.updateOne({ _id: 2 as never }, { $set: { tenant: 'a' } })
    await coll.updateOne({ _id: 3 as never }, { $set: { tenant: 'c' } })
    const ids = async (filter: Document) => (await coll.find(filter).sort({ _id: 1 }).toArray()).map((d) => d._id)
    expect(await ids({ tenant: 'a' })).toEqual([1, 2])
    expect(await ids({ tenant: { $in: ['c', 'a'] } })).toEqual([1, 2, 3])
    expect(await ids({ tenant: 7.0 })).toEqual([4])
    expect(await ids({ tags: 'x' })).toEqual([1, 2])
    expect(await ids({ tags: ['x', 'y'] })).toEqual([1])
    expect(await ids({ tenant: 'b' })).toEqual([])
    await coll.deleteOne({ _id: 1 as never })
    expect(await ids({ tags: { $eq: 'x' } })).toEqual([2])
  })
})

async function watch(collection: string): Promise<ChangeStream> {
  const stream = mongo.db.collection(collection).watch([], { maxAwaitTimeMS: 100 })
  await stream.tryNext()
  return stream
}

describeEmbeddedOnly('embedded server: TTL and refused options', () => {
  it('deletes expired documents of a TTL index in the background, with delete events', async () => {
    const coll = mongo.db.collection(name('ttl'))
    await coll.createIndex({ expiresAt: 1 }, { expireAfterSeconds: 0 })
    const stream = await watch(coll.collectionName)
    await coll.insertMany([
      { _id: 'old' as never, expiresAt: new Date(Date.now() - 1000) },
      { _id: 'new' as never, expiresAt: new Date(Date.now() + 3_600_000) },
      { _id: 'none' as never },
    ])
    const events = [await stream.next(), await stream.next(), await stream.next(), await stream.next()]
    await stream.close()
    expect(events.map((e) => e.operationType)).toEqual(['insert', 'insert', 'insert', 'delete'])
    expect(events[3]).toMatchObject({ documentKey: { _id: 'old' } })
    expect((await coll.find().toArray()).map((d) => d._id)).toEqual(['new', 'none'])
  })

  it('changes a TTL through collMod, and refuses compound TTL indexes', async () => {
    const coll = mongo.db.collection(name('ttl'))
    await coll.createIndex({ at: 1 }, { expireAfterSeconds: 3600 })
    const reply = await mongo.db.command({ collMod: coll.collectionName, index: { keyPattern: { at: 1 }, expireAfterSeconds: 60 } })
    expect(reply).toMatchObject({ expireAfterSeconds_old: 3600, expireAfterSeconds_new: 60 })
    expect((await coll.indexes()).find((i) => i.name === 'at_1')).toMatchObject({ expireAfterSeconds: 60 })
    await expect(coll.createIndex({ at: 1, b: 1 }, { expireAfterSeconds: 5 })).rejects.toMatchObject({ code: 67 })
  })

  it.each([
    ['capped', { capped: true, size: 4096 }],
    ['timeseries', { timeseries: { timeField: 't' } }],
    ['clusteredIndex', { clusteredIndex: { key: { _id: 1 }, unique: true } }],
    ['collation', { collation: { locale: 'fr' } }],
    ['expireAfterSeconds', { expireAfterSeconds: 10 }],
  ])('refuses create with %s, naming it', async (option, options) => {
    const refused = mongo.db.createCollection(name('refused'), options as Document)
    await expect(refused).rejects.toMatchObject({ code: 115, message: new RegExp(`'${option}'`) })
  })

  it('accepts the defaults of refused options and refuses unknown ones as MongoDB does', async () => {
    await mongo.db.createCollection(name('plain'), { capped: false, collation: { locale: 'simple' } } as Document)
    await expect(mongo.db.command({ create: name('odd'), frobnicate: 1 })).rejects.toMatchObject({ code: 40415 })
  })

  it('refuses collations on reads, writes and indexes, and index types it does not implement', async () => {
    const coll = mongo.db.collection(name('collation'))
    await coll.insertOne({ a: 'x' })
    const named = { code: 115, message: /'collation'/ }
    await expect(coll.find({ a: 'X' }, { collation: { locale: 'en', strength: 2 } }).toArray()).rejects.toMatchObject(named)
    await expect(coll.updateOne({ a: 'X' }, { $set: { b: 1 } }, { collation: { locale: 'en' } })).rejects.toMatchObject(named)
    await expect(coll.createIndex({ a: 1 }, { collation: { locale: 'en' } })).rejects.toMatchObject(named)
    await expect(coll.createIndex({ a: 'text' })).rejects.toMatchObject({ code: 115, message: /'text'/ })
    const unknown = { createIndexes: coll.collectionName, indexes: [{ key: { a: 1 }, name: 'a_1', frobnicate: true }] }
    await expect(mongo.db.command(unknown)).rejects.toMatchObject({ code: 197 })
    expect(await coll.find({ a: 'x' }, { collation: { locale: 'simple' } }).toArray()).toHaveLength(1)
  })
})
