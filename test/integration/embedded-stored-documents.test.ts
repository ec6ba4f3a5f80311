/**
 * Reads never change what is stored: projections, `$lookup` and the stages after it work on copies. The embedded
 * server shares stored documents with its oplog and change events, so a read that wrote into one would also
 * change past and future change events.
 */
import type { ChangeStreamDocument, Document } from 'mongodb'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startMongo, type MongoTarget } from '../fixtures/mongo.js'

let mongo: MongoTarget
beforeAll(async () => {
  mongo = await startMongo()
})
afterAll(async () => {
  await mongo?.stop()
})

/** Documents with numeric `_id`s. */
type StoredDoc = Document & { _id: number }

const original = { _id: 1, k: 1, a: { b: 1, c: 2 }, arr: [] as number[], list: [{ x: 1 }] }

describe('stored documents under reads', () => {
  it('stay as written after projections, findAndModify projections and $lookup pipelines, and so do their change events', async () => {
    const other = mongo.db.collection<StoredDoc>('stored_other')
    const main = mongo.db.collection<StoredDoc>('stored_main')
    const stream = other.watch([], { maxAwaitTimeMS: 100 })
    await stream.tryNext() // the stream is open before the writes below
    await other.insertOne({ ...original, a: { ...original.a }, arr: [], list: [{ x: 1 }] })
    await main.insertOne({ _id: 1, k: 1, a: { b: 1 } })

    expect(await other.find({}, { projection: { 'a.b': 0, 'list.x': 0 } }).toArray()).toEqual([
      { _id: 1, k: 1, a: { c: 2 }, arr: [], list: [{}] },
    ])
    const lookup = { $lookup: { from: 'stored_other', localField: 'k', foreignField: 'k', as: 'j' } }
    const changed = await main.aggregate([lookup, { $unwind: '$j' }, { $set: { 'j.a.b': 99 } }]).toArray()
    expect(changed[0].j.a).toEqual({ b: 99, c: 2 })
    const unwound = await main
      .aggregate([lookup, { $unwind: '$j' }, { $replaceRoot: { newRoot: '$j' } }, { $unwind: { path: '$arr', preserveNullAndEmptyArrays: true } }])
      .toArray()
    expect(unwound).toEqual([{ _id: 1, k: 1, a: { b: 1, c: 2 }, list: [{ x: 1 }] }])
    const before = await main.findOneAndUpdate({ _id: 1 }, { $set: { seen: true } }, { projection: { 'a.b': 0 } })
    expect(before).toEqual({ _id: 1, k: 1, a: {} })

    expect(await other.find().toArray()).toEqual([original])
    expect(await main.find().toArray()).toEqual([{ _id: 1, k: 1, a: { b: 1 }, seen: true }])

    await other.updateOne({ _id: 1 }, { $set: { 'a.c': 3 } })
    const events: ChangeStreamDocument[] = []
    while (events.length < 2) {
      const event = await stream.tryNext()
      if (event) events.push(event)
    }
    await stream.close()
    expect(events[0]).toMatchObject({ operationType: 'insert', fullDocument: original })
    // The update is described against the document as it was stored, not as a read left it.
    expect(events[1]).toMatchObject({
      operationType: 'update',
      updateDescription: { updatedFields: { 'a.c': 3 }, removedFields: [], truncatedArrays: [] },
    })
  })
})
