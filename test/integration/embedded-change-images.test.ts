/**
 * fullDocument / fullDocumentBeforeChange through the driver, with and without pre- and post-images
 * recorded by the collection. Passes against MongoDB 7 too.
 */
import { MongoServerError, type ChangeStream, type ChangeStreamOptions, type Collection, type Document } from 'mongodb'
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

async function collection(images: boolean): Promise<Collection> {
  const name = `images_${++counter}`
  return images
    ? mongo.db.createCollection(name, { changeStreamPreAndPostImages: { enabled: true } })
    : mongo.db.createCollection(name)
}

async function watch(coll: Collection, options: ChangeStreamOptions): Promise<ChangeStream> {
  const stream = coll.watch([], { maxAwaitTimeMS: 200, ...options })
  await stream.tryNext()
  return stream
}

async function take(stream: ChangeStream, n: number): Promise<Document[]> {
  const events: Document[] = []
  while (events.length < n) events.push(await stream.next())
  return events
}

/** Inserts {_id: 1, v: 1}, updates it to v: 2 and v: 3, replaces it with v: 4 and deletes it. */
async function writeHistory(coll: Collection): Promise<void> {
  await coll.updateOne({ _id: 1 as never }, { $set: { v: 2 } })
  await coll.updateOne({ _id: 1 as never }, { $set: { v: 3 } })
  await coll.replaceOne({ _id: 1 as never }, { v: 4 })
  await coll.deleteOne({ _id: 1 as never })
}

const summary = (events: Document[]) =>
  events.map((e) => ({
    op: e.operationType,
    ...('fullDocument' in e ? { after: e.fullDocument === null ? null : e.fullDocument.v } : {}),
    ...('fullDocumentBeforeChange' in e
      ? { before: e.fullDocumentBeforeChange === null ? null : e.fullDocumentBeforeChange.v }
      : {}),
  }))

describe('pre- and post-images', () => {
  it('by default reports fullDocument for inserts and replaces only', async () => {
    const coll = await collection(true)
    await coll.insertOne({ _id: 1 as never, v: 1 })
    const stream = await watch(coll, {})
    await writeHistory(coll)
    expect(summary(await take(stream, 4))).toEqual([
      { op: 'update' },
      { op: 'update' },
      { op: 'replace', after: 4 },
      { op: 'delete' },
    ])
    await stream.close()
  })

  it('updateLookup reports the current document, or null once it is gone', async () => {
    const coll = await collection(false)
    await coll.insertOne({ _id: 1 as never, v: 1 })
    const stream = await watch(coll, { fullDocument: 'updateLookup' })
    await writeHistory(coll)
    const events = await take(stream, 4)
    expect(summary(events)).toEqual([
      { op: 'update', after: null },
      { op: 'update', after: null },
      { op: 'replace', after: 4 },
      { op: 'delete' },
    ])
    expect(Object.keys(events[0])).toEqual([
      '_id',
      'operationType',
      'clusterTime',
      'wallTime',
      'fullDocument',
      'ns',
      'documentKey',
      'updateDescription',
    ])
    await stream.close()
  })

  it('updateLookup reports the version current when the event is read, not the one of the commit', async () => {
    const coll = await collection(false)
    await coll.insertOne({ _id: 2 as never, v: 1 })
    const stream = await watch(coll, { fullDocument: 'updateLookup' })
    await coll.updateOne({ _id: 2 as never }, { $set: { v: 2 } })
    await coll.updateOne({ _id: 2 as never }, { $set: { v: 3 } })
    const events = await take(stream, 2)
    expect(events.map((e) => [e.updateDescription.updatedFields.v, e.fullDocument.v])).toEqual([
      [2, 3],
      [3, 3],
    ])
    await stream.close()
  })

  it('whenAvailable reports the images recorded at each commit', async () => {
    const coll = await collection(true)
    await coll.insertOne({ _id: 1 as never, v: 1 })
    const stream = await watch(coll, { fullDocument: 'whenAvailable', fullDocumentBeforeChange: 'whenAvailable' })
    await writeHistory(coll)
    const events = await take(stream, 4)
    expect(summary(events)).toEqual([
      { op: 'update', after: 2, before: 1 },
      { op: 'update', after: 3, before: 2 },
      { op: 'replace', after: 4, before: 3 },
      { op: 'delete', before: 4 },
    ])
    expect(Object.keys(events[0])).toEqual([
      '_id',
      'operationType',
      'clusterTime',
      'wallTime',
      'fullDocument',
      'ns',
      'documentKey',
      'updateDescription',
      'fullDocumentBeforeChange',
    ])
    await stream.close()
  })

  it('whenAvailable reports null where the collection records no images', async () => {
    const coll = await collection(false)
    await coll.insertOne({ _id: 1 as never, v: 1 })
    const stream = await watch(coll, { fullDocument: 'whenAvailable', fullDocumentBeforeChange: 'whenAvailable' })
    await writeHistory(coll)
    expect(summary(await take(stream, 4))).toEqual([
      { op: 'update', after: null, before: null },
      { op: 'update', after: null, before: null },
      { op: 'replace', after: 4, before: null },
      { op: 'delete', before: null },
    ])
    await stream.close()
  })

  it('required reports the images when the collection records them', async () => {
    const coll = await collection(true)
    await coll.insertOne({ _id: 1 as never, v: 1 })
    const stream = await watch(coll, { fullDocument: 'required', fullDocumentBeforeChange: 'required' })
    await writeHistory(coll)
    expect(summary(await take(stream, 4))).toEqual([
      { op: 'update', after: 2, before: 1 },
      { op: 'update', after: 3, before: 2 },
      { op: 'replace', after: 4, before: 3 },
      { op: 'delete', before: 4 },
    ])
    await stream.close()
  })

  it('only records images for writes made while the collection had them enabled', async () => {
    const coll = await collection(false)
    await coll.insertOne({ _id: 1 as never, v: 1 })
    const stream = await watch(coll, { fullDocumentBeforeChange: 'whenAvailable' })
    await coll.updateOne({ _id: 1 as never }, { $set: { v: 2 } })
    await mongo.db.command({ collMod: coll.collectionName, changeStreamPreAndPostImages: { enabled: true } })
    await coll.updateOne({ _id: 1 as never }, { $set: { v: 3 } })
    expect(summary(await take(stream, 2))).toEqual([
      { op: 'update', before: null },
      { op: 'update', before: 2 },
    ])
    await stream.close()
  })

  it('fails a stream that requires a post-image the collection did not record', async () => {
    const coll = await collection(false)
    await coll.insertOne({ _id: 1 as never, v: 1 })
    const stream = await watch(coll, { fullDocument: 'required' })
    await coll.updateOne({ _id: 1 as never }, { $set: { v: 2 } })
    const error = await stream.next().then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(error).toBeInstanceOf(MongoServerError)
    expect((error as MongoServerError).code).toBe(47)
    expect((error as MongoServerError).message).toContain('require a post-image for all update events')
    await stream.close()
  })

  it('fails a stream that requires a pre-image the collection did not record', async () => {
    const coll = await collection(false)
    await coll.insertOne({ _id: 1 as never, v: 1 })
    const stream = await watch(coll, { fullDocumentBeforeChange: 'required' })
    await coll.deleteOne({ _id: 1 as never })
    const error = (await stream.next().catch((e: unknown) => e)) as MongoServerError
    expect(error).toBeInstanceOf(MongoServerError)
    expect(error.code).toBe(47)
    expect(error.message).toContain('require a pre-image for all update, delete and replace events')
    await stream.close()
  })

  it('refuses unknown image modes', async () => {
    const coll = await collection(false)
    const stream = coll.watch([], { fullDocument: 'sometimes' as never })
    const error = (await stream.next().catch((e: unknown) => e)) as MongoServerError
    expect(error).toBeInstanceOf(MongoServerError)
    expect(error.code).toBe(2)
    await stream.close()
  })
})
