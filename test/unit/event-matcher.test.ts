import * as bson from 'bson'
import { Query } from 'mingo'
import { BSON, Decimal128, Double, Int32, Long, ObjectId, Timestamp, type Document } from 'mongodb'
import { describe, expect, it } from 'vitest'
import { compileDocumentPredicate, compileEventPredicate, normalizeBson } from '../../src/streams/filters/matcher.js'
import { compileOrderFilter, compileUserFilter } from '../fixtures/models.js'

type OrderChangeFilter = Record<string, unknown>

const T = 'tenant-a'
const OTHER = 'tenant-b'
const ORDER_ID = new ObjectId('6600000000000000000000aa')
const CUSTOMER = '65f0a1b2c3d4e5f601234567'

const order = (overrides: Document = {}): Document => ({
  _id: ORDER_ID,
  tenantId: T,
  customerId: new ObjectId(CUSTOMER),
  status: 'pending',
  totalAmount: 120,
  currency: 'EUR',
  region: 'eu',
  items: [{ productId: 'p1', quantity: 2, unitPrice: 60 }],
  createdAt: new Date('2024-03-01T10:00:00Z'),
  updatedAt: new Date('2024-03-01T10:00:00Z'),
  ...overrides,
})

interface EventParts {
  before?: Document | null
  after?: Document | null
  updatedFields?: Document
  removedFields?: string[]
  truncatedArrays?: { field: string; newSize: number }[]
}

/** A change event shaped as the driver returns it with fullDocument and fullDocumentBeforeChange 'whenAvailable'. */
function changeEvent(operationType: 'insert' | 'update' | 'replace' | 'delete', parts: EventParts = {}): Document {
  const event: Document = {
    _id: { _data: '8265E1F0A0000000012B042C0100296E5A100400' },
    operationType,
    clusterTime: new Timestamp({ t: 1709287200, i: 1 }),
    wallTime: new Date('2024-03-01T10:00:00Z'),
    ns: { db: 'changegate', coll: 'orders' },
    documentKey: { _id: ORDER_ID },
  }
  if (operationType !== 'delete') event.fullDocument = parts.after ?? null
  if (operationType !== 'insert') event.fullDocumentBeforeChange = parts.before ?? null
  if (operationType === 'update') {
    event.updateDescription = {
      updatedFields: parts.updatedFields ?? {},
      removedFields: parts.removedFields ?? [],
      truncatedArrays: parts.truncatedArrays ?? [],
    }
  }
  return event
}

const matches = (filter: OrderChangeFilter | null, event: Document, tenant = T) =>
  compileEventPredicate(compileOrderFilter(filter, tenant).pipeline)(event)

describe('order filter pipelines evaluated on change events', () => {
  const shipped = order({ status: 'shipped' })
  it.each<[string, OrderChangeFilter | null, Document, boolean]>([
    ['insert of the tenant', null, changeEvent('insert', { after: order() }), true],
    ['insert of another tenant', null, changeEvent('insert', { after: order({ tenantId: OTHER }) }), false],
    ['delete with a pre-image', null, changeEvent('delete', { before: order() }), true],
    ['delete without a pre-image (tenant unknown)', null, changeEvent('delete'), false],
    ['update without images', null, changeEvent('update', { updatedFields: { status: 'shipped' } }), false],
    ['update with only a pre-image', null, changeEvent('update', { before: order() }), true],
    ['tenant change, seen by the old tenant', null, changeEvent('update', { before: order(), after: order({ tenantId: OTHER }) }), true],
    ['operationTypes excludes inserts', { operationTypes: ['DELETE'] }, changeEvent('insert', { after: order() }), false],
    ['operationTypes includes deletes', { operationTypes: ['DELETE'] }, changeEvent('delete', { before: order() }), true],
    ['status on the post-image', { status: ['SHIPPED'] }, changeEvent('update', { before: order(), after: shipped, updatedFields: { status: 'shipped' } }), true],
    ['status on the pre-image only (LEFT)', { status: ['PENDING'] }, changeEvent('update', { before: order(), after: shipped, updatedFields: { status: 'shipped' } }), true],
    ['status on neither image', { status: ['DELIVERED'] }, changeEvent('update', { before: order(), after: shipped, updatedFields: { status: 'shipped' } }), false],
    ['deleted matching document', { status: ['PENDING'] }, changeEvent('delete', { before: order() }), true],
    ['minTotal is inclusive', { minTotal: 120 }, changeEvent('insert', { after: order() }), true],
    ['maxTotal is inclusive', { maxTotal: 120 }, changeEvent('insert', { after: order() }), true],
    ['below minTotal', { minTotal: 120.01 }, changeEvent('insert', { after: order() }), false],
    ['above maxTotal', { maxTotal: 119.99 }, changeEvent('insert', { after: order() }), false],
    ['totalAmount missing', { minTotal: 0 }, changeEvent('insert', { after: order({ totalAmount: undefined }) }), false],
    ['totalAmount a numeric string', { minTotal: 0 }, changeEvent('insert', { after: order({ totalAmount: '120' }) }), false],
    ['customerId, a distinct ObjectId instance', { customerId: CUSTOMER }, changeEvent('insert', { after: order() }), true],
    ['customerId of someone else', { customerId: '65f0a1b2c3d4e5f601234568' }, changeEvent('insert', { after: order() }), false],
    ['customerId stored as a string', { customerId: CUSTOMER }, changeEvent('insert', { after: order({ customerId: CUSTOMER }) }), false],
    ['region', { region: 'eu' }, changeEvent('insert', { after: order() }), true],
    ['region differs', { region: 'us' }, changeEvent('insert', { after: order() }), false],
    ['operator-shaped region is a plain value', { region: '{"$gt":""}' }, changeEvent('insert', { after: order() }), false],
    ['operator-shaped region equal to the stored value', { region: '{"$gt":""}' }, changeEvent('insert', { after: order({ region: '{"$gt":""}' }) }), true],
    ['$-prefixed region is not a field path', { region: '$currency' }, changeEvent('insert', { after: order({ region: 'EUR', currency: 'EUR' }) }), false],
    ['statusChangedTo on an update setting status', { statusChangedTo: ['SHIPPED'] }, changeEvent('update', { before: order(), after: shipped, updatedFields: { status: 'shipped' } }), true],
    ['statusChangedTo on an update setting another status', { statusChangedTo: ['DELIVERED'] }, changeEvent('update', { before: order(), after: shipped, updatedFields: { status: 'shipped' } }), false],
    ['statusChangedTo on an update not touching status', { statusChangedTo: ['PENDING'] }, changeEvent('update', { before: order(), after: order({ region: 'us' }), updatedFields: { region: 'us' } }), false],
    ['statusChangedTo on a replace with that status', { statusChangedTo: ['SHIPPED'] }, changeEvent('replace', { before: order(), after: shipped }), true],
    ['statusChangedTo on a replace keeping the status', { statusChangedTo: ['PENDING'] }, changeEvent('replace', { before: order(), after: order() }), true],
    ['statusChangedTo on an insert', { statusChangedTo: ['PENDING'] }, changeEvent('insert', { after: order() }), false],
    ['fieldsChanged on a nested path', { fieldsChanged: ['items'] }, changeEvent('update', { before: order(), after: order(), updatedFields: { 'items.0.quantity': 3 } }), true],
    ['fieldsChanged on a removed field', { fieldsChanged: ['region'] }, changeEvent('update', { before: order(), after: order(), removedFields: ['region'] }), true],
    ['fieldsChanged on a truncated array', { fieldsChanged: ['items'] }, changeEvent('update', { before: order(), after: order(), truncatedArrays: [{ field: 'items', newSize: 0 }] }), true],
    ['fieldsChanged on untouched fields', { fieldsChanged: ['items', 'status'] }, changeEvent('update', { before: order(), after: order(), updatedFields: { region: 'us', updatedAt: new Date() } }), false],
    ['fieldsChanged prefix is not the field', { fieldsChanged: ['item'] }, changeEvent('update', { before: order(), after: order(), updatedFields: { items: [] } }), false],
    ['fieldsChanged on a replace', { fieldsChanged: ['region'] }, changeEvent('replace', { before: order(), after: order() }), true],
    ['fieldsChanged on a delete', { fieldsChanged: ['region'] }, changeEvent('delete', { before: order() }), false],
  ])('%s', (_name, filter, event, expected) => {
    expect(matches(filter, event)).toBe(expected)
  })

  it('never matches another tenant', () => {
    const event = changeEvent('update', { before: order(), after: shipped, updatedFields: { status: 'shipped' } })
    expect(matches(null, event, OTHER)).toBe(false)
    expect(matches({ statusChangedTo: ['SHIPPED'] }, event, OTHER)).toBe(false)
  })
})

describe('user filter pipelines evaluated on change events', () => {
  const USER = '65f0a1b2c3d4e5f6012345ff'
  const user = { _id: new ObjectId(USER), tenantId: T, email: 'a@example.com', name: 'A', tier: 'gold', profile: {}, preferences: {} }
  const userEvent = (op: 'insert' | 'update' | 'replace' | 'delete', parts: EventParts = {}) => ({
    ...changeEvent(op, parts),
    ns: { db: 'changegate', coll: 'users' },
    documentKey: { _id: new ObjectId(USER) },
  })
  const test = (filter: Parameters<typeof compileUserFilter>[0], event: Document) =>
    compileEventPredicate(compileUserFilter(filter, T).pipeline)(event)

  it('matches the user by document key and the touched fields', () => {
    const update = userEvent('update', { after: user, updatedFields: { 'preferences.theme': 'dark' } })
    expect(test({ userId: USER }, update)).toBe(true)
    expect(test({ userId: '65f0a1b2c3d4e5f601234500' }, update)).toBe(false)
    expect(test({ fields: ['PREFERENCES'] }, update)).toBe(true)
    expect(test({ fields: ['EMAIL', 'TIER'] }, update)).toBe(false)
    expect(test({ fields: ['EMAIL'] }, userEvent('replace', { after: user }))).toBe(true)
    expect(test({ fields: ['EMAIL'] }, userEvent('insert', { after: user }))).toBe(false)
    expect(test(null, userEvent('insert', { after: user }))).toBe(true)
    expect(test(null, userEvent('delete', { before: user }))).toBe(true)
    expect(test(null, userEvent('insert', { after: { ...user, tenantId: OTHER } }))).toBe(false)
  })
})

describe('BSON values match as MongoDB compares them', () => {
  const esmId = new bson.ObjectId(CUSTOMER)
  const driverId = new ObjectId(CUSTOMER)

  it('closes mingo’s gap for ObjectIds of the two bson builds', () => {
    expect(esmId.constructor).not.toBe(driverId.constructor)
    expect(new Query({ a: esmId }, {}).test({ a: driverId })).toBe(false) // the gap
    expect(compileDocumentPredicate({ a: esmId })({ a: driverId })).toBe(true)
    expect(compileDocumentPredicate({ a: driverId })({ a: esmId })).toBe(true)
    expect(compileDocumentPredicate({ a: { $in: [esmId] } })({ a: driverId })).toBe(true)
    expect(compileDocumentPredicate({ a: { $in: [driverId] } })({ a: new bson.ObjectId('65f0a1b2c3d4e5f601234568') })).toBe(false)
  })

  it('matches events decoded from canonical EJSON (as fanned out between nodes)', () => {
    const event = changeEvent('insert', { after: order({ totalAmount: new Double(120) }) })
    const decoded = bson.EJSON.parse(BSON.EJSON.stringify(event, { relaxed: false }), { relaxed: false }) as Document
    expect(decoded.fullDocument.customerId).toBeInstanceOf(bson.ObjectId)
    expect(decoded.fullDocument.totalAmount).toBeInstanceOf(bson.Double)
    expect(matches({ customerId: CUSTOMER, minTotal: 100, maxTotal: 120 }, decoded)).toBe(true)
    expect(matches({ customerId: CUSTOMER, minTotal: 121 }, decoded)).toBe(false)
  })

  it.each<[string, unknown, boolean]>([
    ['plain integer', 15, true],
    ['plain double', 15.5, true],
    ['Int32', new Int32(15), true],
    ['Int32 out of range', new Int32(25), false],
    ['Double', new Double(20), true],
    ['Long', Long.fromNumber(10), true],
    ['Long out of range', Long.fromNumber(9), false],
    ['Decimal128', Decimal128.fromString('19.99'), true],
    ['Decimal128 out of range', Decimal128.fromString('20.01'), false],
    ['numeric string', '15', false],
    ['null', null, false],
    ['NaN', NaN, false],
    ['Double NaN', new Double(NaN), false],
    ['Decimal128 NaN', Decimal128.fromString('NaN'), false],
    ['Infinity', Infinity, false],
  ])('$gte/$lte on %s', (_name, value, expected) => {
    expect(compileDocumentPredicate({ n: { $gte: 10, $lte: 20 } })({ n: value })).toBe(expected)
  })

  it('lets NaN equal only NaN, as MongoDB does', () => {
    expect(compileDocumentPredicate({ n: NaN })({ n: NaN })).toBe(true)
    expect(compileDocumentPredicate({ n: NaN })({ n: new Double(NaN) })).toBe(true)
    expect(compileDocumentPredicate({ n: NaN })({ n: 0 })).toBe(false)
    expect(compileDocumentPredicate({ n: { $eq: null } })({ n: NaN })).toBe(false)
    expect(compileDocumentPredicate({ n: { $lte: 20 } })({ n: NaN })).toBe(false)
  })

  it('compares dates by instant and treats missing fields as null', () => {
    const at = compileDocumentPredicate({ createdAt: { $gte: new Date('2024-03-01T00:00:00Z') } })
    expect(at(order())).toBe(true)
    expect(at(order({ createdAt: new Date('2024-02-29T23:59:59Z') }))).toBe(false)
    expect(at(order({ createdAt: '2024-03-02' }))).toBe(false)
    expect(compileDocumentPredicate({ createdAt: new Date('2024-03-01T10:00:00Z') })(order())).toBe(true)
    expect(compileDocumentPredicate({ region: { $eq: null } })(order({ region: undefined }))).toBe(true)
    expect(compileDocumentPredicate({ region: { $in: ['eu'] } })(order({ region: undefined }))).toBe(false)
  })

  it('evaluates $expr with $objectToArray over update descriptions', () => {
    const predicate = compileEventPredicate([
      { $match: { $expr: { $eq: [{ $size: { $objectToArray: '$updateDescription.updatedFields' } }, 2] } } },
    ])
    expect(predicate(changeEvent('update', { updatedFields: { a: 1, 'b.c': 2 } }))).toBe(true)
    expect(predicate(changeEvent('update', { updatedFields: { a: 1 } }))).toBe(false)
  })
})

describe('compiled predicates', () => {
  it('require every $match stage (AND) and accept an empty pipeline', () => {
    const predicate = compileEventPredicate([{ $match: { a: 1 } }, { $match: { b: 2 } }])
    expect(predicate({ a: 1, b: 2 })).toBe(true)
    expect(predicate({ a: 1, b: 3 })).toBe(false)
    expect(compileEventPredicate([])({})).toBe(true)
  })

  it('refuse stages other than $match, and scripts', () => {
    expect(() => compileEventPredicate([{ $project: { a: 1 } }])).toThrow(TypeError)
    expect(() => compileEventPredicate([{ $match: { a: 1 }, $limit: 1 }])).toThrow(TypeError)
    expect(() => compileEventPredicate([{ $match: { $where: 'true' } }])).toThrow()
  })

  it('never match a missing document', () => {
    const predicate = compileDocumentPredicate({})
    expect(predicate(null)).toBe(false)
    expect(predicate(undefined)).toBe(false)
    expect(predicate({})).toBe(true)
  })

  it('give the same answer for an event matched again', () => {
    const predicate = compileDocumentPredicate({ n: { $gte: 10 } })
    const doc = { n: new Int32(12) }
    expect(predicate(doc)).toBe(true)
    expect(predicate(doc)).toBe(true)
    expect(doc.n).toBeInstanceOf(Int32)
  })
})

describe('normalizeBson', () => {
  it('returns the same object when nothing needs normalising', () => {
    const doc = order()
    expect(normalizeBson(doc)).toBe(doc)
  })

  it('copies only the branches that change', () => {
    const doc = { a: { n: new Int32(1) }, b: { c: 1 }, list: [new bson.ObjectId(CUSTOMER), 'x'] }
    const normal = normalizeBson(doc) as typeof doc
    expect(normal).not.toBe(doc)
    expect(normal.a).toEqual({ n: 1 })
    expect(normal.b).toBe(doc.b)
    expect(normal.list[0]).toBeInstanceOf(ObjectId)
    expect(doc.a.n).toBeInstanceOf(Int32)
  })
})
