import * as bson from 'bson'
import { Query } from 'mingo'
import { Binary, Decimal128, Double, Int32, Long, ObjectId, Timestamp, type Document } from 'mongodb'
import { describe, expect, it } from 'vitest'
import { compileFastTest } from '../../src/streams/filters/fast-query.js'
import { compileDocumentPredicate, compileEventPredicate, normalizeBson } from '../../src/streams/filters/matcher.js'
import { compileOrderFilter } from '../fixtures/models.js'

/** mingo on normalised values: what every filter answered before the fast path, and the reference for it. */
const reference = (query: Document, doc: Document) =>
  new Query(normalizeBson(query) as Document, { scriptEnabled: false }).test(normalizeBson(doc) as Document)

const HEX = '65f0a1b2c3d4e5f601234567'
const DAY = new Date('2024-03-01T10:00:00Z')

/** Values a document may hold: every type class the fast path reads, and some it leaves to mingo. */
const STORED: readonly (() => unknown)[] = [
  () => 'a',
  () => 'b',
  () => '',
  () => 'é',
  () => 0,
  () => -0,
  () => 1,
  () => 1.5,
  () => -1,
  () => Infinity,
  () => -Infinity,
  () => NaN,
  () => new Int32(1),
  () => Long.fromNumber(1),
  () => new Double(1.5),
  () => Decimal128.fromString('1'),
  () => Decimal128.fromString('NaN'),
  () => new Double(NaN),
  () => new ObjectId(HEX),
  () => new bson.ObjectId(HEX),
  () => new ObjectId('65f0a1b2c3d4e5f601234568'),
  () => new Date(DAY),
  () => new Date(DAY.getTime() + 1),
  () => true,
  () => false,
  () => null,
  () => undefined,
  () => ({ x: 'a' }),
  () => ({ x: 1, y: { z: null } }),
  () => ['a', 1],
  () => [],
  () => [[1]],
  () => [{ x: 'a' }, { x: 1 }],
  () => new Timestamp({ t: 1, i: 1 }),
  () => new Binary(Buffer.from('a')),
  () => /a/,
]

/** Query values: those the fast path compares, and a few it refuses (so the query goes to mingo whole). */
const QUERIED: readonly (() => unknown)[] = [
  () => 'a',
  () => '',
  () => 'é',
  () => 0,
  () => 1,
  () => 1.5,
  () => -Infinity,
  () => Infinity,
  () => new Int32(1),
  () => Long.fromNumber(1),
  () => Decimal128.fromString('1.5'),
  () => new ObjectId(HEX),
  () => new bson.ObjectId(HEX),
  () => new Date(DAY),
  () => true,
  () => false,
  () => null,
]

const PATHS = ['a', 'b', 'a.x', 'a.y.z', 'a.0']

function random(seed: number) {
  let state = seed >>> 0
  const next = () => {
    state = (state * 1664525 + 1013904223) >>> 0
    return state / 2 ** 32
  }
  const pick = <T,>(list: readonly T[]): T => list[Math.floor(next() * list.length)]
  return { next, pick }
}

function randomDocument(r: ReturnType<typeof random>, depth = 0): Document {
  const doc: Document = {}
  for (const key of ['a', 'b', 'x', 'y']) {
    const roll = r.next()
    if (roll < 0.2) continue
    if (roll < 0.35 && depth < 2) doc[key] = randomDocument(r, depth + 1)
    else {
      const value = r.pick(STORED)()
      if (value !== undefined) doc[key] = value
    }
  }
  return doc
}

function randomCondition(r: ReturnType<typeof random>): unknown {
  const value = () => r.pick(QUERIED)()
  switch (Math.floor(r.next() * 9)) {
    case 0:
      return value()
    case 1:
      return { $eq: value() }
    case 2:
      return { $ne: value() }
    case 3:
      return { $in: [value(), value()] }
    case 4:
      return { $nin: [value()] }
    case 5:
      return { $exists: r.next() < 0.5 }
    case 6:
      return { [r.pick(['$gt', '$gte', '$lt', '$lte'])]: value() }
    case 7:
      return { $gte: value(), $lte: value() }
    default:
      return r.pick([{ $size: 0 }, { $type: 'string' }, { $elemMatch: { $eq: 1 } }])
  }
}

function randomQuery(r: ReturnType<typeof random>, depth = 0): Document {
  const roll = r.next()
  if (depth < 2 && roll < 0.3) {
    const operator = r.pick(['$and', '$or', '$nor'])
    return { [operator]: [randomQuery(r, depth + 1), randomQuery(r, depth + 1)] }
  }
  const query: Document = { [r.pick(PATHS)]: randomCondition(r) }
  if (r.next() < 0.3) query[r.pick(PATHS)] = randomCondition(r)
  return query
}

describe('fast query tests', () => {
  it('never answer differently from mingo on normalised values (20,000 random queries and documents)', () => {
    const r = random(20261203)
    let decided = 0
    let compiled = 0
    const disagreements: string[] = []
    for (let n = 0; n < 20_000; n++) {
      const query = randomQuery(r)
      const doc = randomDocument(r)
      const test = compileFastTest(query)
      const expected = reference(query, doc)
      if (test) {
        compiled++
        const result = test(doc)
        if (result !== undefined) {
          decided++
          if (result !== expected) disagreements.push(`${bson.EJSON.stringify(query)} on ${bson.EJSON.stringify(doc)}: ${result}, mingo ${expected}`)
        }
      }
      // The combined predicate (fast parts, mingo where undecided) always answers as mingo does.
      if (compileDocumentPredicate(query)(doc) !== expected) disagreements.push(`predicate: ${bson.EJSON.stringify(query)} on ${bson.EJSON.stringify(doc)}`)
    }
    expect(disagreements.slice(0, 5)).toEqual([])
    // The comparison above means something only if the fast path compiles and decides most of them.
    expect(compiled).toBeGreaterThan(10_000)
    expect(decided).toBeGreaterThan(compiled / 2)
  })

  it('compile every stage of the common filters, and decide plain events without mingo', () => {
    const pipeline = compileOrderFilter(
      { customerId: HEX, status: ['SHIPPED', 'PENDING'], minTotal: 100, operationTypes: ['INSERT', 'UPDATE'] },
      'tenant-a',
    ).pipeline
    for (const stage of pipeline) expect(compileFastTest(stage.$match as Document), JSON.stringify(stage)).toBeDefined()
    const event = {
      _id: { _data: '8265E1F0A0000000012B042C0100296E5A100400' },
      operationType: 'insert',
      documentKey: { _id: new ObjectId() },
      fullDocument: { tenantId: 'tenant-a', customerId: new ObjectId(HEX), status: 'shipped', totalAmount: 120, items: [{ sku: 'a' }] },
    }
    const tests = pipeline.map((stage) => compileFastTest(stage.$match as Document)!)
    expect(tests.map((test) => test(event))).toEqual(pipeline.map((stage) => reference(stage.$match as Document, event)))
    expect(compileEventPredicate(pipeline)(event)).toBe(pipeline.every((stage) => reference(stage.$match as Document, event)))
  })

  it('leave to mingo what they do not compare: operators, regular expressions, embedded documents, scripts', () => {
    expect(compileFastTest({ a: { $elemMatch: { $eq: 1 } } })).toBeUndefined()
    expect(compileFastTest({ a: /x/ })).toBeUndefined()
    expect(compileFastTest({ a: { x: 1 } })).toBeUndefined()
    expect(compileFastTest({ $expr: { $eq: ['$a', 1] } })).toBeUndefined()
    expect(compileFastTest({ a: { $gt: true } })).toBeUndefined()
    expect(compileFastTest({ a: NaN })).toBeUndefined()
    expect(compileFastTest({ 'a.$x': 1 })).toBeUndefined()
  })

  it('answer undecided for arrays on the path and NaN, where MongoDB’s rules differ from plain reads', () => {
    const test = compileFastTest({ 'a.x': 'a' })!
    expect(test({ a: [{ x: 'a' }] })).toBeUndefined()
    expect(test({ a: { x: ['a'] } })).toBeUndefined()
    expect(compileFastTest({ a: { $gte: 0 } })!({ a: NaN })).toBeUndefined()
    expect(compileDocumentPredicate({ 'a.x': 'a' })({ a: [{ x: 'b' }, { x: 'a' }] })).toBe(true)
  })

  it('read no inherited property as a field', () => {
    expect(compileFastTest({ constructor: { $exists: true } })!({})).toBe(false)
    expect(compileFastTest({ 'a.toString': { $exists: true } })!({ a: {} })).toBe(false)
  })
})
