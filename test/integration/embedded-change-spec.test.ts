/**
 * The parts of MongoDB's change stream specification tests that the embedded server used to accept and then
 * ignore: `failGetMoreAfterCursorCheckout` (the driver resumes after a resumable error), unknown fail points,
 * `showExpandedEvents` (catalog events, collectionUUID) and `disambiguatedPaths`, and options it does not
 * implement. Passes against MongoDB 7 with test commands enabled too.
 */
import { MongoClient, type ChangeStream, type Collection, type Document } from 'mongodb'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { describeEmbeddedOnly, startMongo, type MongoTarget } from '../fixtures/mongo.js'

let mongo: MongoTarget
let client: MongoClient
const aggregates: string[] = []
let counter = 0

beforeAll(async () => {
  mongo = await startMongo()
  client = new MongoClient(mongo.uri, { monitorCommands: true })
  client.on('commandStarted', (event) => {
    if (event.commandName === 'aggregate') aggregates.push(event.databaseName)
  })
  await client.connect()
})
afterAll(async () => {
  await client?.close()
  await mongo?.stop()
})
afterEach(async () => {
  await mongo.client.db('admin').command({ configureFailPoint: 'failGetMoreAfterCursorCheckout', mode: 'off' })
})

async function fresh(): Promise<Collection> {
  const name = `spec_${++counter}`
  await mongo.db.createCollection(name)
  return client.db(mongo.db.databaseName).collection(name)
}

async function opened(stream: ChangeStream): Promise<ChangeStream> {
  await stream.tryNext()
  return stream
}

const failGetMore = (errorCode: number) =>
  mongo.client.db('admin').command({ configureFailPoint: 'failGetMoreAfterCursorCheckout', mode: { times: 1 }, data: { errorCode } })

describe('failGetMoreAfterCursorCheckout', () => {
  it.each([6, 7, 89, 91, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436, 63, 150, 13388, 234, 133])(
    'the driver resumes after error %i on getMore, missing nothing',
    async (errorCode) => {
      const coll = await fresh()
      const stream = await opened(coll.watch([], { maxAwaitTimeMS: 50 }))
      const before = aggregates.length
      await failGetMore(errorCode)
      await coll.insertOne({ _id: errorCode as never })
      const event = await stream.next()
      await stream.close()
      expect(event).toMatchObject({ operationType: 'insert', documentKey: { _id: errorCode } })
      expect(aggregates.length - before).toBe(1)
    },
  )

  it('a non-resumable error reaches the application', async () => {
    const coll = await fresh()
    const stream = await opened(coll.watch([], { maxAwaitTimeMS: 50 }))
    await failGetMore(2)
    await coll.insertOne({ a: 1 })
    await expect(stream.next()).rejects.toMatchObject({ code: 2 })
    await stream.close()
  })

  it('an unknown fail point is refused with FailPointSetFailed', async () => {
    const refused = mongo.client.db('admin').command({ configureFailPoint: 'noSuchFailPointAnywhere', mode: 'alwaysOn' })
    await expect(refused).rejects.toMatchObject({ code: 266, codeName: 'FailPointSetFailed', message: 'noSuchFailPointAnywhere not found' })
  })
})

async function take(stream: ChangeStream, n: number): Promise<Document[]> {
  const events: Document[] = []
  while (events.length < n) events.push(await stream.next())
  return events
}

describe('showExpandedEvents', () => {
  it('reports create, createIndexes, dropIndexes and modify with collectionUUID and operationDescription', async () => {
    const db = mongo.db
    const name = `expanded_${++counter}`
    const stream = await opened(db.watch([{ $match: { 'ns.coll': name } }], { showExpandedEvents: true, maxAwaitTimeMS: 50 }))
    const plain = await opened(db.watch([{ $match: { 'ns.coll': name } }], { maxAwaitTimeMS: 50 }))
    const coll = await db.createCollection(name)
    await coll.createIndex({ a: 1 }, { name: 'a_1' })
    await db.command({ collMod: name, validator: { a: { $exists: true } } })
    await coll.dropIndex('a_1')
    await coll.insertOne({ _id: 1 as never, a: 1 })
    await coll.drop()
    const events = await take(stream, 6)
    expect(events.map((e) => e.operationType)).toEqual(['create', 'createIndexes', 'modify', 'dropIndexes', 'insert', 'drop'])
    const uuid = events[0].collectionUUID
    expect(uuid).toBeDefined()
    for (const event of events) expect(event.collectionUUID.toHexString()).toBe(uuid.toHexString())
    expect(events[0].operationDescription).toMatchObject({ idIndex: { v: 2, key: { _id: 1 }, name: '_id_' } })
    expect(events[1].operationDescription).toEqual({ indexes: [{ v: 2, key: { a: 1 }, name: 'a_1' }] })
    expect(events[2].operationDescription).toMatchObject({ validator: { a: { $exists: true } } })
    expect(events[3].operationDescription).toEqual({ indexes: [{ v: 2, key: { a: 1 }, name: 'a_1' }] })
    // Without the option, the catalog events are not reported.
    const basic = await take(plain, 2)
    expect(basic.map((e) => e.operationType)).toEqual(['insert', 'drop'])
    expect(basic[0]).not.toHaveProperty('collectionUUID')
    await stream.close()
    await plain.close()
  })

  it('reports disambiguatedPaths only for ambiguous paths, and only with showExpandedEvents', async () => {
    const coll = await fresh()
    await coll.insertOne({ _id: 1 as never, a: { '1': 1 }, b: 1 })
    const expanded = await opened(coll.watch([], { showExpandedEvents: true, maxAwaitTimeMS: 50 }))
    const plain = await opened(coll.watch([], { maxAwaitTimeMS: 50 }))
    await coll.updateOne({ _id: 1 as never }, { $set: { 'a.1': 2 } })
    await coll.updateOne({ _id: 1 as never }, { $set: { b: 2 } })
    const [ambiguous, clear] = await take(expanded, 2)
    const [withoutOption] = await take(plain, 1)
    await expanded.close()
    await plain.close()
    expect(ambiguous.updateDescription.disambiguatedPaths).toEqual({ 'a.1': ['a', '1'] })
    expect(clear.updateDescription.disambiguatedPaths).toEqual({})
    expect(withoutOption.updateDescription).not.toHaveProperty('disambiguatedPaths')
  })
})

describeEmbeddedOnly('embedded server: options it does not implement', () => {
  it.each(['showRawUpdateDescription', 'showSystemEvents'])('refuses $changeStream %s, naming it', async (option) => {
    const refused = mongo.db.command({ aggregate: 1, pipeline: [{ $changeStream: { [option]: true } }], cursor: {} })
    await expect(refused).rejects.toMatchObject({ code: 115, message: new RegExp(`'${option}'`) })
  })

  it('refuses unknown aggregate fields and non-simple collations on change streams', async () => {
    const unknown = mongo.db.command({ aggregate: 1, pipeline: [{ $changeStream: {} }], cursor: {}, frobnicate: 1 })
    await expect(unknown).rejects.toMatchObject({ code: 40415 })
    const collation = mongo.db.command({ aggregate: 1, pipeline: [{ $changeStream: {} }], cursor: {}, collation: { locale: 'fr' } })
    await expect(collation).rejects.toMatchObject({ code: 115, message: /'collation'/ })
  })
})
