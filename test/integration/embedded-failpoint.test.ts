import { MongoClient, MongoNetworkError, MongoServerError, type Collection, type Document } from 'mongodb'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { startMongo, type MongoTarget } from '../fixtures/mongo.js'

let mongo: MongoTarget
let plain: MongoClient
let seq = 0
let coll: Collection
const APP = 'failpoint-tests'

const failCommand = (mode: unknown, data: Document = {}) =>
  mongo.client.db('admin').command({ configureFailPoint: 'failCommand', mode, data: { appName: APP, ...data } })

beforeAll(async () => {
  mongo = await startMongo()
  // No automatic retries, so every injected failure is visible.
  plain = await new MongoClient(mongo.uri, { appName: APP, retryReads: false, retryWrites: false }).connect()
})
afterAll(async () => {
  await plain?.close()
  await mongo?.stop()
})
beforeEach(async () => {
  coll = plain.db(mongo.db.databaseName).collection(`f${seq++}`)
  await coll.insertMany([{ n: 1 }, { n: 2 }, { n: 3 }])
})
afterEach(async () => {
  await failCommand('off')
})

const outcome = (p: Promise<unknown>) =>
  p.then(
    () => 'ok',
    (e: unknown) => e,
  )

describe('failCommand', () => {
  it('fails the next n matching commands with { times: n }, then lets them through', async () => {
    await failCommand({ times: 2 }, { failCommands: ['find'], errorCode: 2 })
    const first = await outcome(coll.findOne({}))
    expect(first).toBeInstanceOf(MongoServerError)
    expect(first).toMatchObject({ code: 2, codeName: 'BadValue', message: expect.stringMatching(/failCommand/) })
    await expect(coll.findOne({})).rejects.toMatchObject({ code: 2 })
    await expect(coll.findOne({ n: 1 })).resolves.toMatchObject({ n: 1 })
  })

  it('only touches the listed commands', async () => {
    await failCommand({ times: 1 }, { failCommands: ['distinct'], errorCode: 2 })
    expect(await coll.countDocuments()).toBe(3)
    await expect(coll.distinct('n')).rejects.toMatchObject({ code: 2 })
    expect(await coll.distinct('n')).toEqual([1, 2, 3])
  })

  it('fails every time while alwaysOn, and stops when turned off', async () => {
    await failCommand('alwaysOn', { failCommands: ['count'], errorCode: 2 })
    for (let i = 0; i < 3; i++) await expect(coll.estimatedDocumentCount()).rejects.toMatchObject({ code: 2 })
    await failCommand('off')
    expect(await coll.estimatedDocumentCount()).toBe(3)
  })

  it('lets the first n through with { skip: n }', async () => {
    await failCommand({ skip: 1 }, { failCommands: ['find'], errorCode: 2 })
    await expect(coll.findOne({})).resolves.toBeTruthy()
    await expect(coll.findOne({})).rejects.toMatchObject({ code: 2 })
    await expect(coll.findOne({})).rejects.toMatchObject({ code: 2 })
  })

  it('puts the given error labels on the driver error', async () => {
    await failCommand({ times: 1 }, { failCommands: ['insert'], errorCode: 112, errorLabels: ['TransientTransactionError', 'CustomLabel'] })
    const error = await outcome(coll.insertOne({ n: 4 }))
    expect(error).toBeInstanceOf(MongoServerError)
    const server = error as MongoServerError
    expect(server.code).toBe(112)
    expect(server.hasErrorLabel('TransientTransactionError')).toBe(true)
    expect(server.hasErrorLabel('CustomLabel')).toBe(true)
    expect(await coll.countDocuments()).toBe(3)
  })

  it('lets a retryable write recover from one retryable error', async () => {
    const retrying = await new MongoClient(mongo.uri, { appName: APP }).connect()
    try {
      await failCommand({ times: 1 }, { failCommands: ['insert'], errorCode: 91 })
      await retrying.db(mongo.db.databaseName).collection(coll.collectionName).insertOne({ n: 99 })
      expect(await coll.countDocuments({ n: 99 })).toBe(1)
    } finally {
      await retrying.close()
    }
  })

  it('fails getMore too', async () => {
    const cursor = coll.find({}, { batchSize: 1 })
    await cursor.next()
    await failCommand({ times: 1 }, { failCommands: ['getMore'], errorCode: 2 })
    await expect(cursor.next()).rejects.toMatchObject({ code: 2 })
    await cursor.close()
  })

  it('closes the connection without a reply with closeConnection', async () => {
    await failCommand({ times: 1 }, { failCommands: ['find'], closeConnection: true })
    const error = await outcome(coll.findOne({}))
    expect(error).toBeInstanceOf(MongoNetworkError)
    await expect(coll.findOne({ n: 2 })).resolves.toMatchObject({ n: 2 })
  })

  it('delays the command with blockConnection, then runs it', async () => {
    await failCommand({ times: 1 }, { failCommands: ['find'], blockConnection: true, blockTimeMS: 400 })
    const started = Date.now()
    const slow = coll.findOne({ n: 3 })
    // Other connections are not blocked meanwhile.
    const pingStarted = Date.now()
    await mongo.client.db('admin').command({ ping: 1 })
    expect(Date.now() - pingStarted).toBeLessThan(300)
    await expect(slow).resolves.toMatchObject({ n: 3 })
    expect(Date.now() - started).toBeGreaterThanOrEqual(380)
  })

  it('blocks and then fails when both are configured', async () => {
    await failCommand({ times: 1 }, { failCommands: ['find'], blockConnection: true, blockTimeMS: 200, errorCode: 2 })
    const started = Date.now()
    await expect(coll.findOne({})).rejects.toMatchObject({ code: 2 })
    expect(Date.now() - started).toBeGreaterThanOrEqual(180)
  })
})
