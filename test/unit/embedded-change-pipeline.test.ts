import { Decimal128, Double, Int32, Long, ObjectId, Timestamp } from 'bson'
import { describe, expect, it } from 'vitest'
import { compileUserStages } from '../../src/embedded/changes/pipeline.js'

function errorOf(fn: () => unknown): { code?: number; message: string } {
  try {
    fn()
  } catch (error) {
    return error as { code?: number; message: string }
  }
  throw new Error('expected an error')
}

const oid = new ObjectId()
const event = {
  _id: { _data: '8200' },
  operationType: 'insert',
  clusterTime: new Timestamp({ t: 1_700_000_000, i: 3 }),
  wallTime: new Date(1_700_000_000_000),
  fullDocument: {
    _id: oid,
    customerId: new ObjectId(oid.toHexString()),
    total: new Double(120),
    views: Long.fromNumber(7),
    price: Decimal128.fromString('19.99'),
    createdAt: new Date(1_600_000_000_000),
    tags: ['a', 'b'],
    profile: { tier: 'gold' },
  },
  ns: { db: 'd', coll: 'c' },
  documentKey: { _id: oid },
}

const passes = (stages: unknown[]) => compileUserStages(stages)(event) !== undefined

describe('stages after $changeStream', () => {
  it('allows the stages MongoDB allows', () => {
    const run = compileUserStages([
      { $match: { operationType: 'insert' } },
      { $addFields: { seen: true } },
      { $set: { 'fullDocument.extra': 1 } },
      { $project: { operationType: 1, fullDocument: 1, seen: 1 } },
      { $unset: 'fullDocument.tags' },
      { $redact: '$$KEEP' },
    ])
    const out = run(event)
    expect(out).toBeDefined()
    expect(Object.keys(out!)).toEqual(['_id', 'operationType', 'fullDocument', 'seen'])
    expect(out!.fullDocument.extra).toBe(1)
    expect(out!.fullDocument.tags).toBeUndefined()
    // the event itself (shared with the oplog) is never written to
    expect(event.fullDocument).not.toHaveProperty('extra')
    expect(event).not.toHaveProperty('seen')
    expect(passes([{ $replaceRoot: { newRoot: '$$ROOT' } }, { $replaceWith: '$$ROOT' }])).toBe(true)
  })

  it('refuses other known stages with IllegalOperation', () => {
    for (const [stage, name] of [
      [{ $group: { _id: null } }, '$group'],
      [{ $sort: { a: 1 } }, '$sort'],
      [{ $limit: 1 }, '$limit'],
      [{ $lookup: { from: 'x', as: 'y', localField: 'a', foreignField: 'b' } }, '$lookup'],
      [{ $count: 'n' }, '$group'],
    ] as const) {
      const error = errorOf(() => compileUserStages([stage]))
      expect(error.code).toBe(20)
      expect(error.message).toBe(`${name} is not permitted in a $changeStream pipeline`)
    }
  })

  it('refuses unknown stages, malformed stages and a second $changeStream', () => {
    expect(errorOf(() => compileUserStages([{ $group: { _id: 1 } }, { $frobnicate: {} }])).code).toBe(40324)
    expect(errorOf(() => compileUserStages([{ $match: {}, $project: { a: 1 } }])).code).toBe(40323)
    expect(errorOf(() => compileUserStages([{ $changeStream: {} }])).code).toBe(40602)
    expect(errorOf(() => compileUserStages([{ $match: { $frob: 1 } }])).code).toBe(2)
  })

  it('accepts $changeStreamSplitLargeEvent only last', () => {
    expect(passes([{ $match: {} }, { $changeStreamSplitLargeEvent: {} }])).toBe(true)
    expect(errorOf(() => compileUserStages([{ $changeStreamSplitLargeEvent: {} }, { $match: {} }])).code).toBe(7182802)
  })

  it('matches BSON values as MongoDB compares them', () => {
    const yes = [
      { 'fullDocument.customerId': new ObjectId(oid.toHexString()) },
      { 'fullDocument.customerId': { $in: [new ObjectId(), new ObjectId(oid.toHexString())] } },
      { 'fullDocument.total': 120 },
      { 'fullDocument.total': { $gte: new Int32(100), $lt: Long.fromNumber(121) } },
      { 'fullDocument.views': 7 },
      { 'fullDocument.views': { $gt: new Double(6.5) } },
      { 'fullDocument.price': { $gt: 19, $lt: Decimal128.fromString('20') } },
      { clusterTime: { $gt: new Timestamp({ t: 1_700_000_000, i: 2 }) } },
      { clusterTime: new Timestamp({ t: 1_700_000_000, i: 3 }) },
      { 'fullDocument.createdAt': { $lt: new Date(1_600_000_000_001) } },
      { wallTime: { $gte: new Date(1_700_000_000_000) } },
      { 'fullDocument.tags': 'b' },
      { 'fullDocument.missing': null },
      { 'fullDocument.customerId': { $type: 'objectId' } },
      { 'fullDocument.views': { $type: 'long' } },
      { $expr: { $gt: ['$fullDocument.views', 6] } },
      { 'fullDocument.profile': { tier: 'gold' } },
    ]
    for (const match of yes) expect(passes([{ $match: match }]), JSON.stringify(match)).toBe(true)
    const no = [
      { 'fullDocument.customerId': new ObjectId() },
      { 'fullDocument.total': { $gt: '100' } },
      { 'fullDocument.views': { $gt: 7 } },
      { clusterTime: { $gt: new Timestamp({ t: 1_700_000_000, i: 3 }) } },
      { 'fullDocument.createdAt': { $gt: new Date(1_600_000_000_000) } },
      { 'fullDocument.total': null },
      { 'fullDocument.views': { $type: 'double' } },
    ]
    for (const match of no) expect(passes([{ $match: match }]), JSON.stringify(match)).toBe(false)
  })

  it('leaves events untouched and uncopied when there are only $match stages', () => {
    expect(compileUserStages([{ $match: { operationType: 'insert' } }])(event)).toBe(event)
    expect(compileUserStages([])(event)).toBe(event)
  })
})
