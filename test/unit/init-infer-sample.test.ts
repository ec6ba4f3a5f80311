import { Binary, Decimal128, Double, Int32, Long, ObjectId } from 'bson'
import { describe, expect, it } from 'vitest'
import { inferFromSample } from '../../src/models/init/infer-sample.js'

describe('inferFromSample', () => {
  it('maps every value type, stored wrappers and plain values alike', () => {
    const { fields } = inferFromSample([
      {
        _id: new ObjectId(), s: 'a', b: true, i: new Int32(3), n: 4, d: new Double(2), f: 2.5, dec: Decimal128.fromString('1.5'),
        small: Long.fromNumber(7), big: Long.fromString('9007199254740'), huge: 2 ** 40, o: new ObjectId(), t: new Date(), bin: new Binary(Buffer.from('x')),
      },
    ])
    expect(fields).toEqual({
      s: 'String!', b: 'Boolean!', i: 'Int!', n: 'Int!', d: 'Float!', f: 'Float!', dec: 'Float!', small: 'Int!', big: 'Float!',
      huge: 'Float!', o: 'ObjectId!', t: 'DateTime!', bin: 'JSON!',
    })
  })

  it('is non-null only for fields present and non-null in every document', () => {
    const { fields } = inferFromSample([
      { always: 'a', sometimes: 1, nulled: 'x' },
      { always: 'b', nulled: null },
      { always: 'c', sometimes: 2, nulled: 'y', onlyNull: null },
    ])
    expect(fields).toEqual({ always: 'String!', sometimes: 'Int', nulled: 'String', onlyNull: 'JSON' })
  })

  it('widens Int and Float to Float and any other mix to JSON', () => {
    const { fields } = inferFromSample([
      { amount: new Int32(1), mixed: 'a', dateOrNull: new Date() },
      { amount: new Double(1.5), mixed: 2, dateOrNull: null },
    ])
    expect(fields).toEqual({ amount: 'Float!', mixed: 'JSON!', dateOrNull: 'DateTime' })
  })

  it('turns plain objects into nested objects, merged over documents', () => {
    const { fields } = inferFromSample([
      { sla: { hours: 4, tier: 'gold' }, either: { a: 1 } },
      { sla: { hours: 8 }, either: 'text' },
    ])
    expect(fields).toEqual({ sla: { object: { hours: 'Int!', tier: 'String' }, required: true }, either: 'JSON!' })
  })

  it('stops nesting objects at four path segments and makes empty objects JSON', () => {
    const { fields } = inferFromSample([{ a: { b: { c: { d: { e: 1 }, n: 1 } } }, empty: {} }])
    expect(fields).toEqual({
      a: { object: { b: { object: { c: { object: { d: 'JSON!', n: 'Int!' }, required: true } }, required: true } }, required: true },
      empty: 'JSON!',
    })
  })

  it('turns arrays into lists of the unified element type', () => {
    const { fields } = inferFromSample([
      { tags: ['a', 'b'], nums: [1, 2.5], holes: [1, null], lines: [{ sku: 'a', qty: 1 }, { sku: 'b' }], empty: [], mixed: ['a', 1], grid: [[1]] },
      { tags: [], nums: [3], holes: [2], lines: [], empty: [], mixed: [], grid: [] },
    ])
    expect(fields).toEqual({
      tags: '[String!]!',
      nums: '[Float!]!',
      holes: '[Int]!',
      lines: { object: { qty: 'Int', sku: 'String!' }, list: true, required: true },
      empty: '[JSON]!',
      mixed: '[JSON!]!',
      grid: '[JSON!]!',
    })
  })

  it('leaves out _id and skips names GraphQL cannot spell, with the reason', () => {
    const result = inferFromSample([{ _id: 1, 'full name': 'x', id: 'x', meta: { 'k.v': 1, ok: true } }])
    expect(result.fields).toEqual({ meta: { object: { ok: 'Boolean!' }, required: true } })
    expect(result.skipped).toEqual([
      { path: 'full name', reason: 'not a valid GraphQL name' },
      { path: 'id', reason: "'id' is the implicit document id (from _id)" },
      { path: 'meta.k.v', reason: 'not a valid GraphQL name' },
    ])
  })

  it('lists fields in name order whatever order the documents hold them in', () => {
    expect(Object.keys(inferFromSample([{ b: 1, a: 1 }, { c: 1, a: 2 }]).fields)).toEqual(['a', 'b', 'c'])
  })

  it('gives no fields for no documents', () => {
    expect(inferFromSample([])).toEqual({ fields: {}, skipped: [] })
  })
})
