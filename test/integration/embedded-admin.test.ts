import { UUID, type Collection, type Document } from 'mongodb'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { describeEmbeddedOnly, startMongo, type MongoTarget } from '../fixtures/mongo.js'

let mongo: MongoTarget
let seq = 0
let name: string
let coll: Collection

beforeAll(async () => {
  mongo = await startMongo()
})
afterAll(async () => {
  await mongo?.stop()
})
beforeEach(() => {
  name = `a${seq++}`
  coll = mongo.db.collection(name)
})

const collectionInfo = async (collName: string) => (await mongo.db.listCollections({ name: collName }).toArray())[0] as Document | undefined

describe('collections', () => {
  it('creates a collection recording pre- and post-images, shown by listCollections', async () => {
    await mongo.db.createCollection(name, { changeStreamPreAndPostImages: { enabled: true } })
    const info = await collectionInfo(name)
    expect(info).toMatchObject({ name, type: 'collection', options: { changeStreamPreAndPostImages: { enabled: true } } })
    expect(info!.info.uuid).toBeInstanceOf(UUID)
  })

  it('refuses to create an existing collection (NamespaceExists 48)', async () => {
    await mongo.db.createCollection(name)
    await expect(mongo.db.createCollection(name)).rejects.toMatchObject({ code: 48, codeName: 'NamespaceExists' })
  })

  it('gives an implicitly created collection a UUID that survives later writes', async () => {
    await coll.insertOne({ a: 1 })
    const first = (await collectionInfo(name))!.info.uuid as UUID
    await coll.insertOne({ a: 2 })
    expect(((await collectionInfo(name))!.info.uuid as UUID).equals(first)).toBe(true)
  })

  it('changes pre- and post-image recording with collMod', async () => {
    await mongo.db.createCollection(name)
    await mongo.db.command({ collMod: name, changeStreamPreAndPostImages: { enabled: true } })
    expect((await collectionInfo(name))!.options).toMatchObject({ changeStreamPreAndPostImages: { enabled: true } })
    await mongo.db.command({ collMod: name, changeStreamPreAndPostImages: { enabled: false } })
    expect((await collectionInfo(name))!.options).toMatchObject({ changeStreamPreAndPostImages: { enabled: false } })
    await expect(mongo.db.command({ collMod: `${name}_missing`, changeStreamPreAndPostImages: { enabled: true } })).rejects.toMatchObject({
      code: 26,
    })
  })

  it('lists names only and filters', async () => {
    await mongo.db.createCollection(`${name}_x`)
    await mongo.db.createCollection(`${name}_y`)
    const names = (await mongo.db.listCollections({ name: { $regex: `^${name}_` } }, { nameOnly: true }).toArray()).map((c) => c.name)
    expect(names.sort()).toEqual([`${name}_x`, `${name}_y`])
  })

  it('drops collections; dropping a missing one succeeds', async () => {
    await coll.insertOne({ a: 1 })
    expect(await coll.drop()).toBe(true)
    expect(await collectionInfo(name)).toBeUndefined()
    expect(await coll.countDocuments()).toBe(0)
    await expect(mongo.db.collection(`${name}_never`).drop()).resolves.toBe(true)
  })

  it('renames collections, refusing an existing target unless dropTarget', async () => {
    await coll.insertMany([{ a: 1 }, { a: 2 }])
    await mongo.db.collection(`${name}_taken`).insertOne({ t: 1 })
    await expect(coll.rename(`${name}_taken`)).rejects.toMatchObject({ code: 48 })
    const renamed = await coll.rename(`${name}_new`)
    expect(await renamed.countDocuments()).toBe(2)
    expect(await collectionInfo(name)).toBeUndefined()
    await renamed.rename(`${name}_taken`, { dropTarget: true })
    expect(await mongo.db.collection(`${name}_taken`).countDocuments({ a: { $exists: true } })).toBe(2)
    await expect(mongo.db.collection(`${name}_gone`).rename(`${name}_other`)).rejects.toMatchObject({ code: 26 })
  })

  it('drops a whole database', async () => {
    const other = mongo.client.db(`${mongo.db.databaseName}_x`)
    await other.collection('c').insertOne({ a: 1 })
    const before = await mongo.client.db('admin').admin().listDatabases()
    expect(before.databases.map((d) => d.name)).toContain(other.databaseName)
    await other.dropDatabase()
    const after = await mongo.client.db('admin').admin().listDatabases()
    expect(after.databases.map((d) => d.name)).not.toContain(other.databaseName)
    expect(await other.collection('c').countDocuments()).toBe(0)
  })
})

describe('indexes', () => {
  it('creates, lists and drops indexes', async () => {
    expect(await coll.createIndex({ a: 1, b: -1 })).toBe('a_1_b_-1')
    expect(await coll.createIndex({ c: 1 }, { name: 'by_c', sparse: true })).toBe('by_c')
    const indexes = await coll.listIndexes().toArray()
    expect(indexes.map((i) => i.name)).toEqual(['_id_', 'a_1_b_-1', 'by_c'])
    expect(indexes[2]).toMatchObject({ key: { c: 1 }, sparse: true })
    await coll.dropIndex('a_1_b_-1')
    expect((await coll.listIndexes().toArray()).map((i) => i.name)).toEqual(['_id_', 'by_c'])
    await expect(coll.dropIndex('nope')).rejects.toMatchObject({ code: 27, codeName: 'IndexNotFound' })
    await coll.dropIndexes()
    expect((await coll.listIndexes().toArray()).map((i) => i.name)).toEqual(['_id_'])
  })

  it('enforces unique indexes on insert, update and upsert with E11000 details', async () => {
    await coll.createIndex({ email: 1 }, { unique: true })
    await coll.insertOne({ email: 'a@x' })
    const insertError = (await coll.insertOne({ email: 'a@x' }).catch((e: unknown) => e)) as Document
    expect(insertError).toMatchObject({ code: 11000, keyPattern: { email: 1 }, keyValue: { email: 'a@x' } })
    expect(insertError.message).toMatch(/E11000 duplicate key error collection: .* index: email_1 dup key: \{ email: "a@x" \}/)
    await coll.insertOne({ email: 'b@x' })
    await expect(coll.updateOne({ email: 'b@x' }, { $set: { email: 'a@x' } })).rejects.toMatchObject({ code: 11000 })
    await expect(coll.updateOne({ email: 'a@x', n: 1 }, { $set: { n: 2 } }, { upsert: true })).rejects.toMatchObject({ code: 11000 })
    expect(await coll.countDocuments()).toBe(2)
    await coll.updateOne({ email: 'b@x' }, { $set: { email: 'c@x' } })
    await coll.insertOne({ email: 'b@x' })
    expect(await coll.countDocuments()).toBe(3)
  })

  it('refuses to build a unique index over duplicates', async () => {
    await coll.insertMany([{ k: 1 }, { k: 1 }])
    await expect(coll.createIndex({ k: 1 }, { unique: true })).rejects.toMatchObject({ code: 11000 })
    expect((await coll.listIndexes().toArray()).map((i) => i.name)).toEqual(['_id_'])
  })

  it('reports listIndexes on a missing collection as NamespaceNotFound', async () => {
    await expect(mongo.db.command({ listIndexes: `${name}_missing` })).rejects.toMatchObject({ code: 26 })
  })
})

describe('errors', () => {
  it('answers an unknown command with CommandNotFound 59', async () => {
    const error = await mongo.db.command({ frobnicate: 1 }).catch((e: unknown) => e as Document)
    expect(error).toMatchObject({ code: 59, codeName: 'CommandNotFound', errmsg: "no such command: 'frobnicate'" })
  })

  it('rejects a document over 16 MB with BSONObjectTooLarge 10334', async () => {
    const big = 'x'.repeat(16 * 1024 * 1024 + 100 * 1024)
    await expect(coll.insertOne({ big })).rejects.toMatchObject({ code: 10334 })
    expect(await coll.countDocuments()).toBe(0)
    await coll.insertOne({ small: 1 })
    expect(await coll.countDocuments()).toBe(1)
  })
})

describe('hello', () => {
  it('describes a writable replica set primary', async () => {
    const hello = await mongo.db.admin().command({ hello: 1 })
    expect(hello).toMatchObject({ isWritablePrimary: true, secondary: false, maxBsonObjectSize: 16777216, maxWriteBatchSize: 100000 })
    expect(typeof hello.setName).toBe('string')
    expect(hello.hosts).toContain(hello.me)
    expect(hello.primary).toBe(hello.me)
    expect(hello.maxWireVersion).toBeGreaterThanOrEqual(21)
    expect(hello.logicalSessionTimeoutMinutes).toBe(30)
    const info = await mongo.db.admin().command({ buildInfo: 1 })
    expect(info.versionArray[0]).toBeGreaterThanOrEqual(7)
  })
})

describeEmbeddedOnly('embedded server specifics', () => {
  it('advertises the address clients connect to and no topologyVersion', async () => {
    const hello = await mongo.db.admin().command({ hello: 1 })
    const me = `127.0.0.1:${mongo.embedded!.port}`
    expect(hello).toMatchObject({ setName: 'rs0', setVersion: 1, hosts: [me], primary: me, me, maxWireVersion: 21 })
    expect(hello).not.toHaveProperty('topologyVersion')
    expect(mongo.uri).toBe(`mongodb://${me}/?replicaSet=rs0`)
    const legacy = await mongo.db.admin().command({ isMaster: 1 })
    expect(legacy).toMatchObject({ ismaster: true, hosts: [me] })
    const build = await mongo.db.admin().command({ buildInfo: 1 })
    expect(build.version).toMatch(/^7\.0\./)
  })
})
