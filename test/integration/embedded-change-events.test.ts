/**
 * Change events through the official driver: each event type's exact shape and field order, update
 * descriptions, and invalidation on collection, database and cluster streams. Passes against MongoDB 7 too.
 */
import type { ChangeStream, ChangeStreamDocument, Document } from 'mongodb'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startMongo, type MongoTarget } from '../fixtures/mongo.js'

let mongo: MongoTarget
beforeAll(async () => {
  mongo = await startMongo()
})
afterAll(async () => {
  await mongo?.stop()
})

const AWAIT = { maxAwaitTimeMS: 200 }

/** Opens the stream on the server before returning, so it sees every later write. */
async function opened<T extends Document>(stream: ChangeStream<T>): Promise<ChangeStream<T>> {
  await stream.tryNext()
  return stream
}

async function take(stream: ChangeStream, n: number): Promise<Document[]> {
  const events: Document[] = []
  while (events.length < n) events.push(await stream.next())
  return events
}

let counter = 0
const collName = (base: string) => `${base}_${++counter}`

describe('change events through the driver', () => {
  it('insert, update, replace and delete carry MongoDB fields in MongoDB order', async () => {
    const coll = mongo.db.collection(collName('orders'))
    const stream = await opened(coll.watch([], AWAIT))
    await coll.insertOne({ _id: 1 as never, status: 'pending', total: 10 })
    await coll.updateOne({ _id: 1 as never }, { $set: { status: 'paid' } })
    await coll.replaceOne({ _id: 1 as never }, { status: 'replaced' })
    await coll.deleteOne({ _id: 1 as never })
    const [insert, update, replace, del] = await take(stream, 4)
    await stream.close()

    expect(Object.keys(insert)).toEqual(['_id', 'operationType', 'clusterTime', 'wallTime', 'fullDocument', 'ns', 'documentKey'])
    expect(insert).toMatchObject({
      operationType: 'insert',
      fullDocument: { _id: 1, status: 'pending', total: 10 },
      ns: { db: mongo.db.databaseName, coll: coll.collectionName },
      documentKey: { _id: 1 },
    })
    expect(Object.keys(insert._id)).toEqual(['_data'])
    expect(typeof insert._id._data).toBe('string')
    expect(insert.clusterTime._bsontype).toBe('Timestamp')
    expect(insert.wallTime).toBeInstanceOf(Date)

    expect(Object.keys(update)).toEqual(['_id', 'operationType', 'clusterTime', 'wallTime', 'ns', 'documentKey', 'updateDescription'])
    expect(update.updateDescription).toEqual({ updatedFields: { status: 'paid' }, removedFields: [], truncatedArrays: [] })

    expect(Object.keys(replace)).toEqual(['_id', 'operationType', 'clusterTime', 'wallTime', 'fullDocument', 'ns', 'documentKey'])
    expect(replace.fullDocument).toEqual({ _id: 1, status: 'replaced' })

    expect(Object.keys(del)).toEqual(['_id', 'operationType', 'clusterTime', 'wallTime', 'ns', 'documentKey'])
    expect(del.documentKey).toEqual({ _id: 1 })

    const tokens = [insert, update, replace, del].map((e) => e._id._data as string)
    expect([...tokens].sort()).toEqual(tokens)
    const times = [insert, update, replace, del].map((e) => e.clusterTime)
    for (let i = 1; i < times.length; i++) expect(times[i].greaterThanOrEqual(times[i - 1])).toBe(true)
  })

  it('describes updates with dotted paths, array elements, removals and truncations', async () => {
    const coll = mongo.db.collection<Document>(collName('profiles'))
    const tags = ['t0', 't1', 't2', 't3', 't4', 't5', 't6', 't7']
    await coll.insertOne({
      _id: 7 as never,
      name: 'Ada Lovelace, Countess of Lovelace',
      profile: { city: 'London', zip: 'W1', prefs: { theme: 'dark', lang: 'en' } },
      items: [
        { sku: 'a', qty: 1 },
        { sku: 'b', qty: 2 },
      ],
      tags,
      legacy: true,
    })
    const stream = await opened(coll.watch([], AWAIT))
    await coll.updateOne({ _id: 7 as never }, { $set: { 'profile.city': 'Paris', 'profile.prefs.lang': 'fr' } })
    await coll.updateOne({ _id: 7 as never }, { $unset: { legacy: '', 'profile.zip': '' } })
    await coll.updateOne({ _id: 7 as never }, { $push: { tags: 't8' } as Document })
    await coll.updateOne({ _id: 7 as never }, { $inc: { 'items.1.qty': 3 } })
    await coll.updateOne({ _id: 7 as never }, [{ $set: { tags: { $slice: ['$tags', 3] } } }])
    await coll.updateOne({ _id: 7 as never }, { $set: { profile: 'moved', name: 'Ada' } })
    const events = await take(stream, 6)
    await stream.close()
    expect(events.map((e) => e.updateDescription)).toEqual([
      { updatedFields: { 'profile.city': 'Paris', 'profile.prefs.lang': 'fr' }, removedFields: [], truncatedArrays: [] },
      { updatedFields: {}, removedFields: ['legacy', 'profile.zip'], truncatedArrays: [] },
      { updatedFields: { 'tags.8': 't8' }, removedFields: [], truncatedArrays: [] },
      { updatedFields: { 'items.1.qty': 5 }, removedFields: [], truncatedArrays: [] },
      { updatedFields: {}, removedFields: [], truncatedArrays: [{ field: 'tags', newSize: 3 }] },
      { updatedFields: { name: 'Ada', profile: 'moved' }, removedFields: [], truncatedArrays: [] },
    ])
  })

  it('ends a collection stream with drop then invalidate, and closes it', async () => {
    const coll = mongo.db.collection(collName('dropped'))
    await coll.insertOne({ _id: 1 as never })
    const stream = await opened(coll.watch([], AWAIT))
    await coll.drop()
    const [drop, invalidate] = await take(stream, 2)
    expect(Object.keys(drop)).toEqual(['_id', 'operationType', 'clusterTime', 'wallTime', 'ns'])
    expect(drop).toMatchObject({ operationType: 'drop', ns: { db: mongo.db.databaseName, coll: coll.collectionName } })
    expect(Object.keys(invalidate)).toEqual(['_id', 'operationType', 'clusterTime', 'wallTime'])
    expect(invalidate.operationType).toBe('invalidate')
    expect(invalidate.clusterTime.equals(drop.clusterTime)).toBe(true)
    expect(invalidate._id._data > drop._id._data).toBe(true)
    await stream.close()
  })

  it('ends a collection stream with rename then invalidate', async () => {
    const coll = mongo.db.collection(collName('renamed'))
    await coll.insertOne({ _id: 1 as never })
    const stream = await opened(coll.watch([], AWAIT))
    const target = collName('renamed_to')
    await coll.rename(target)
    const [rename, invalidate] = await take(stream, 2)
    expect(Object.keys(rename).sort()).toEqual(['_id', 'clusterTime', 'ns', 'operationType', 'to', 'wallTime'])
    expect(rename).toMatchObject({
      operationType: 'rename',
      ns: { db: mongo.db.databaseName, coll: coll.collectionName },
      to: { db: mongo.db.databaseName, coll: target },
    })
    expect(invalidate.operationType).toBe('invalidate')
    await stream.close()
  })

  it('lets a database stream see drops and renames, then invalidates it when the database is dropped', async () => {
    const client = mongo.client
    const db = client.db(`${mongo.db.databaseName}_dbstream`)
    const a = db.collection('a')
    await a.insertOne({ _id: 1 as never })
    const stream = await opened(db.watch([], AWAIT))
    await db.collection('b').insertOne({ _id: 2 as never })
    await a.rename('a2')
    await db.collection('b').drop()
    await db.dropDatabase()
    const events = await take(stream, 6)
    expect(events.map((e) => e.operationType)).toEqual(['insert', 'rename', 'drop', 'drop', 'dropDatabase', 'invalidate'])
    expect(events[3].ns).toEqual({ db: db.databaseName, coll: 'a2' })
    expect(Object.keys(events[4])).toEqual(['_id', 'operationType', 'clusterTime', 'wallTime', 'ns'])
    expect(events[4].ns).toEqual({ db: db.databaseName })
    await stream.close()
  })

  it('ends a collection stream when its database is dropped', async () => {
    const db = mongo.client.db(`${mongo.db.databaseName}_collstream`)
    const coll = db.collection('c')
    await coll.insertOne({ _id: 1 as never })
    const stream = await opened(coll.watch([], AWAIT))
    await db.dropDatabase()
    const events = await take(stream, 2)
    expect(events.map((e) => e.operationType)).toEqual(['drop', 'invalidate'])
    await stream.close()
  })

  it('never invalidates a cluster stream', async () => {
    const db = mongo.client.db(`${mongo.db.databaseName}_cluster`)
    const stream = await opened(mongo.client.watch([{ $match: { 'ns.db': db.databaseName } }], AWAIT))
    await db.collection('x').insertOne({ _id: 1 as never })
    await db.collection('x').drop()
    await db.collection('y').insertOne({ _id: 2 as never })
    await db.dropDatabase()
    await db.collection('z').insertOne({ _id: 3 as never })
    const events = (await take(stream, 6)) as ChangeStreamDocument[]
    expect(events.map((e) => e.operationType)).toEqual(['insert', 'drop', 'insert', 'drop', 'dropDatabase', 'insert'])
    await stream.close()
    await db.dropDatabase()
  })
})
