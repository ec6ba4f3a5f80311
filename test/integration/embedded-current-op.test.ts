import type { ChangeStream, Document } from 'mongodb'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { changeStreamCursors } from '../fixtures/current-op.js'
import { startMongo, type MongoTarget } from '../fixtures/mongo.js'

/** `$currentOp` with `idleCursors`, as MongoDB 7.0 answers it (also run against MONGODB_URI). */

let mongo: MongoTarget
const streams: ChangeStream[] = []

beforeAll(async () => {
  mongo = await startMongo()
  await mongo.db.collection('a').insertMany(Array.from({ length: 5 }, (_, n) => ({ n })))
  await mongo.db.createCollection('b')
})

afterAll(async () => {
  await Promise.all(streams.map((s) => s.close()))
  await mongo?.stop()
})

const ns = (coll: string) => `${mongo.db.databaseName}.${coll}`

async function openStream(coll: string, pipeline: Document[] = []) {
  const stream = mongo.db.collection(coll).watch(pipeline, { maxAwaitTimeMS: 50 })
  streams.push(stream)
  // The aggregate that opens the cursor on the server, then one getMore.
  await stream.tryNext()
  return stream
}

describe('$currentOp', () => {
  it('lists each open change stream cursor once, with the aggregate that opened it and its namespace', async () => {
    expect(await changeStreamCursors(mongo.client, ns('a'))).toEqual([])
    const first = await openStream('a', [{ $match: { operationType: 'insert' } }])
    await openStream('a')
    await openStream('b')
    const onA = await changeStreamCursors(mongo.client, ns('a'))
    expect(onA).toHaveLength(2)
    for (const op of onA) {
      expect(['idleCursor', 'op']).toContain(op.type)
      expect(op.ns).toBe(ns('a'))
      expect(op.cursor.originatingCommand.aggregate).toBe('a')
      expect(op.cursor.originatingCommand.pipeline[0]).toHaveProperty('$changeStream')
    }
    expect(onA.map((op) => JSON.stringify(op.cursor.originatingCommand.pipeline.slice(1))).sort()).toEqual(['[]', '[{"$match":{"operationType":"insert"}}]'])
    expect(await changeStreamCursors(mongo.client, ns('b'))).toHaveLength(1)

    await first.close()
    expect(await changeStreamCursors(mongo.client, ns('a'))).toHaveLength(1)
  })

  it('reports idle cursors of other commands as type idleCursor, and only with idleCursors: true', async () => {
    const cursor = mongo.db.collection('a').find({}, { batchSize: 2 })
    await cursor.next()
    const admin = mongo.client.db('admin')
    const idle = await admin.aggregate([{ $currentOp: { idleCursors: true, allUsers: true } }, { $match: { type: 'idleCursor', ns: ns('a'), 'cursor.originatingCommand.find': 'a' } }]).toArray()
    expect(idle).toHaveLength(1)
    expect(idle[0].cursor.cursorId).toBeDefined()
    const without = await admin.aggregate([{ $currentOp: { allUsers: true } }, { $match: { type: 'idleCursor' } }]).toArray()
    expect(without).toEqual([])
    await cursor.close()
  })

  it('includes the running $currentOp command itself', async () => {
    const [self] = await mongo.client
      .db('admin')
      .aggregate([{ $currentOp: { allUsers: true } }, { $match: { 'command.pipeline.0.$currentOp': { $exists: true } } }])
      .toArray()
    expect(self).toMatchObject({ type: 'op', active: true, op: 'command' })
  })

  it('must run on the admin database with aggregate: 1, as the first stage', async () => {
    await expect(mongo.db.collection('a').aggregate([{ $currentOp: {} }]).toArray()).rejects.toMatchObject({ code: 73 })
    await expect(mongo.client.db('admin').aggregate([{ $match: {} }, { $currentOp: {} }]).toArray()).rejects.toMatchObject({ code: 40602 })
    await expect(mongo.client.db('admin').aggregate([{ $currentOp: { nope: true } }]).toArray()).rejects.toMatchObject({ code: 40415 })
  })
})
