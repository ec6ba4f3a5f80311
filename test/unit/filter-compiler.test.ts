import { ObjectId } from 'mongodb'
import { describe, expect, it } from 'vitest'
import { hasCode, ErrorCode } from '../../src/errors.js'
import { compileOrderFilter, compileUserFilter } from '../fixtures/models.js'

type OrderChangeFilter = Record<string, unknown>
type UserProfileFilter = Record<string, unknown>

const T = 'tenant-a'
const CUSTOMER = '65f0a1b2c3d4e5f601234567'
const ALL = ['delete', 'insert', 'replace', 'update']
const opStage = (types: string[]) => ({ $match: { operationType: { $in: types } } })
const tenantStage = (tenant = T) => ({
  $match: {
    $or: [{ 'fullDocument.tenantId': { $eq: tenant } }, { 'fullDocumentBeforeChange.tenantId': { $eq: tenant } }],
  },
})
const docStage = (q: Record<string, unknown>) => ({
  $match: {
    $or: [
      Object.fromEntries(Object.entries(q).map(([k, v]) => [`fullDocument.${k}`, v])),
      Object.fromEntries(Object.entries(q).map(([k, v]) => [`fullDocumentBeforeChange.${k}`, v])),
    ],
  },
})
const touchedNames = (stage: unknown): unknown =>
  (stage as { $match: { $or: [{ $expr: { $gt: [{ $size: { $filter: { cond: { $in: [unknown, unknown] } } } }] } }] } })
    .$match.$or[0].$expr.$gt[0].$size.$filter.cond.$in[1]

function badInput(compile: () => unknown): string {
  try {
    compile()
  } catch (error) {
    expect(hasCode(error, ErrorCode.BAD_USER_INPUT)).toBe(true)
    return (error as Error).message
  }
  throw new Error('expected BAD_USER_INPUT')
}

describe('compileOrderFilter', () => {
  it('without a filter selects every data event of the tenant', () => {
    const compiled = compileOrderFilter(null, T)
    expect(compiled).toEqual({
      collection: 'orders',
      tenant: T,
      tenantField: 'tenantId',
      pipeline: [opStage(ALL), tenantStage()],
      canonical: JSON.stringify([opStage(ALL), tenantStage()]),
      documentFilter: {},
      indexKeys: {},
    })
  })

  it.each<[string, OrderChangeFilter, unknown[], Record<string, unknown>]>([
    ['operationTypes', { operationTypes: ['UPDATE', 'INSERT'] }, [opStage(['insert', 'update']), tenantStage()], {}],
    ['status', { status: ['SHIPPED', 'PENDING'] }, [opStage(ALL), tenantStage(), docStage({ status: { $in: ['pending', 'shipped'] } })], { status: { $in: ['pending', 'shipped'] } }],
    ['minTotal', { minTotal: 100 }, [opStage(ALL), tenantStage(), docStage({ totalAmount: { $gte: 100 } })], { totalAmount: { $gte: 100 } }],
    ['maxTotal', { maxTotal: 99.5 }, [opStage(ALL), tenantStage(), docStage({ totalAmount: { $lte: 99.5 } })], { totalAmount: { $lte: 99.5 } }],
    ['both bounds', { minTotal: -5, maxTotal: 5 }, [opStage(ALL), tenantStage(), docStage({ totalAmount: { $gte: -5, $lte: 5 } })], { totalAmount: { $gte: -5, $lte: 5 } }],
    ['equal bounds', { minTotal: 7, maxTotal: 7 }, [opStage(ALL), tenantStage(), docStage({ totalAmount: { $gte: 7, $lte: 7 } })], { totalAmount: { $gte: 7, $lte: 7 } }],
    ['customerId', { customerId: CUSTOMER }, [opStage(ALL), tenantStage(), docStage({ customerId: { $eq: new ObjectId(CUSTOMER) } })], { customerId: { $eq: new ObjectId(CUSTOMER) } }],
    ['region', { region: 'eu-west' }, [opStage(ALL), tenantStage(), docStage({ region: { $eq: 'eu-west' } })], { region: { $eq: 'eu-west' } }],
    ['empty region', { region: '' }, [opStage(ALL), tenantStage(), docStage({ region: { $eq: '' } })], { region: { $eq: '' } }],
    [
      'statusChangedTo',
      { statusChangedTo: ['DELIVERED', 'SHIPPED'] },
      [
        opStage(['replace', 'update']),
        tenantStage(),
        {
          $match: {
            $or: [
              { operationType: 'update', 'updateDescription.updatedFields.status': { $in: ['delivered', 'shipped'] } },
              { operationType: 'replace', 'fullDocument.status': { $in: ['delivered', 'shipped'] } },
            ],
          },
        },
      ],
      {},
    ],
  ])('%s', (_name, filter, pipeline, documentFilter) => {
    const compiled = compileOrderFilter(filter, T)
    expect(compiled.pipeline).toEqual(pipeline)
    expect(compiled.documentFilter).toEqual(documentFilter)
  })

  it('combines every part in canonical stage order', () => {
    const compiled = compileOrderFilter(
      {
        fieldsChanged: ['items'],
        statusChangedTo: ['SHIPPED'],
        region: 'eu',
        customerId: CUSTOMER,
        maxTotal: 500,
        minTotal: 10,
        status: ['CONFIRMED'],
        operationTypes: ['UPDATE', 'DELETE'],
      },
      T,
    )
    const [types, tenant, doc, statusChange, touched, ...rest] = compiled.pipeline
    expect(rest).toEqual([])
    expect(types).toEqual(opStage(['update']))
    expect(tenant).toEqual(tenantStage())
    expect(doc).toEqual(
      docStage({
        status: { $in: ['confirmed'] },
        totalAmount: { $gte: 10, $lte: 500 },
        customerId: { $eq: new ObjectId(CUSTOMER) },
        region: { $eq: 'eu' },
      }),
    )
    expect(JSON.stringify(statusChange)).toContain('updateDescription.updatedFields.status')
    expect(touchedNames(touched)).toEqual([{ $literal: 'items' }])
    expect(compiled.indexKeys).toEqual({ customerId: CUSTOMER })
  })

  it('matches updates touching listed fields, and every replace, for fieldsChanged', () => {
    const [types, , touched] = compileOrderFilter({ fieldsChanged: ['status', 'items', 'status'] }, T).pipeline
    expect(types).toEqual(opStage(['replace', 'update']))
    expect(touchedNames(touched)).toEqual([{ $literal: 'items' }, { $literal: 'status' }])
    expect((touched as { $match: { $or: unknown[] } }).$match.$or[1]).toEqual({ operationType: 'replace' })
  })

  it('narrows operationTypes to updates and replaces for statusChangedTo and fieldsChanged', () => {
    expect(compileOrderFilter({ operationTypes: ['INSERT', 'UPDATE'], statusChangedTo: ['SHIPPED'] }, T).pipeline[0]).toEqual(opStage(['update']))
    expect(compileOrderFilter({ operationTypes: ['REPLACE', 'DELETE'], fieldsChanged: ['region'] }, T).pipeline[0]).toEqual(opStage(['replace']))
    expect(badInput(() => compileOrderFilter({ operationTypes: ['INSERT', 'DELETE'], statusChangedTo: ['SHIPPED'] }, T))).toContain(
      'operationTypes',
    )
  })

  it.each<[string, unknown, string]>([
    ['empty operationTypes', { operationTypes: [] }, 'operationTypes must not be an empty list'],
    ['empty status', { status: [] }, 'status must not be an empty list'],
    ['empty statusChangedTo', { statusChangedTo: [] }, 'statusChangedTo must not be an empty list'],
    ['empty fieldsChanged', { fieldsChanged: [] }, 'fieldsChanged must not be an empty list'],
    ['unknown status', { status: ['pending'] }, 'status[0] must be one of PENDING'],
    ['unknown operation', { operationTypes: ['INVALIDATE'] }, 'operationTypes entries must be one of'],
    ['status not a list', { status: 'PENDING' }, 'status must be a list'],
    ['101 statuses', { status: Array(101).fill('PENDING') }, 'status must have at most 100 entries'],
    ['short customerId', { customerId: CUSTOMER.slice(1) }, 'customerId must be a 24-character hex ObjectId'],
    ['long customerId', { customerId: `${CUSTOMER}0` }, 'customerId must be a 24-character hex ObjectId'],
    ['12-byte string customerId', { customerId: 'abcdefghijkl' }, 'customerId must be a 24-character hex ObjectId'],
    ['non-hex customerId', { customerId: 'zzf0a1b2c3d4e5f601234567' }, 'customerId must be a 24-character hex ObjectId'],
    ['operator customerId', { customerId: '{"$gt":""}' }, 'customerId must be a 24-character hex ObjectId'],
    ['object customerId', { customerId: { $gt: '' } }, 'customerId must be a 24-character hex ObjectId'],
    ['crossed bounds', { minTotal: 10, maxTotal: 9.99 }, 'minTotal must not be greater than maxTotal'],
    ['NaN minTotal', { minTotal: NaN }, 'minTotal must be a finite number'],
    ['infinite maxTotal', { maxTotal: Infinity }, 'maxTotal must be a finite number'],
    ['string minTotal', { minTotal: '10' }, 'minTotal must be a finite number'],
    ['long region', { region: 'r'.repeat(1025) }, 'region must be at most 1024 characters'],
    ['object region', { region: { $gt: '' } }, 'region must be a string'],
    ['$where fieldsChanged', { fieldsChanged: ['$where'] }, 'fieldsChanged entries must be top-level field names'],
    ['dotted fieldsChanged', { fieldsChanged: ['items.quantity'] }, 'fieldsChanged entries must be top-level field names'],
    ['operator fieldsChanged', { fieldsChanged: ['{"$gt":""}'] }, 'fieldsChanged entries must be top-level field names'],
    ['empty field name', { fieldsChanged: [''] }, 'fieldsChanged entries must be top-level field names'],
    ['65-char field name', { fieldsChanged: ['f'.repeat(65)] }, 'fieldsChanged entries must be top-level field names'],
    ['101 field names', { fieldsChanged: Array.from({ length: 101 }, (_, n) => `f${n}`) }, 'fieldsChanged must have at most 100 entries'],
    ['filter not an object', 'status:PENDING', 'filter must be an object'],
  ])('rejects %s with BAD_USER_INPUT', (_name, filter, message) => {
    expect(badInput(() => compileOrderFilter(filter as OrderChangeFilter, T))).toContain(message)
  })

  it('accepts the longest allowed strings and lists', () => {
    const compiled = compileOrderFilter(
      { region: 'r'.repeat(128), fieldsChanged: ['f'.repeat(64), ...Array.from({ length: 31 }, (_, n) => `f${n}`)] },
      T,
    )
    expect(compiled.pipeline).toHaveLength(4)
  })

  it('keeps operator-shaped strings as plain values', () => {
    for (const region of ['{"$gt":""}', '$where', '$$ROOT', '$region']) {
      const { pipeline, documentFilter } = compileOrderFilter({ region }, T)
      expect(documentFilter).toEqual({ region: { $eq: region } })
      expect(pipeline[2]).toEqual(docStage({ region: { $eq: region } }))
    }
    const tenant = '{"$ne":null}'
    expect(compileOrderFilter(null, tenant).pipeline[1]).toEqual(tenantStage(tenant))
  })

  it('gives byte-identical canonical pipelines for equivalent filters', () => {
    const variants: OrderChangeFilter[] = [
      { status: ['SHIPPED', 'PENDING'], customerId: CUSTOMER, minTotal: 0, statusChangedTo: ['SHIPPED', 'DELIVERED'] },
      { statusChangedTo: ['DELIVERED', 'SHIPPED', 'SHIPPED'], minTotal: -0, customerId: CUSTOMER.toUpperCase(), status: ['PENDING', 'SHIPPED', 'PENDING'] },
      { status: ['PENDING', 'SHIPPED'], customerId: CUSTOMER, minTotal: 0, statusChangedTo: ['SHIPPED', 'DELIVERED'], region: null, maxTotal: null, operationTypes: ['DELETE', 'REPLACE', 'UPDATE', 'INSERT'] },
    ]
    const canonicals = new Set(variants.map((v) => compileOrderFilter(v, T).canonical))
    expect(canonicals.size).toBe(1)
    expect([...canonicals][0]).toContain(`{"$oid":"${CUSTOMER}"}`)
    expect([...canonicals][0]).toContain('{"$numberInt":"0"}')
    expect(compileOrderFilter(variants[0], T).indexKeys).toEqual(compileOrderFilter(variants[1], T).indexKeys)

    const empty = [undefined, null, {}, { status: null, fieldsChanged: undefined }, { operationTypes: ['INSERT', 'UPDATE', 'REPLACE', 'DELETE'] }]
    expect(new Set(empty.map((f) => compileOrderFilter(f as OrderChangeFilter, T).canonical)).size).toBe(1)
  })

  it('gives different canonical pipelines for different filters and tenants', () => {
    const canonicals = [
      compileOrderFilter(null, T),
      compileOrderFilter(null, 'tenant-b'),
      compileOrderFilter({ minTotal: 1 }, T),
      compileOrderFilter({ minTotal: 1.5 }, T),
      compileOrderFilter({ maxTotal: 1 }, T),
      compileOrderFilter({ region: CUSTOMER }, T),
      compileOrderFilter({ customerId: CUSTOMER }, T),
      compileOrderFilter({ status: ['SHIPPED'] }, T),
      compileOrderFilter({ statusChangedTo: ['SHIPPED'] }, T),
      compileOrderFilter({ fieldsChanged: ['status'] }, T),
    ].map((c) => c.canonical)
    expect(new Set(canonicals).size).toBe(canonicals.length)
  })

  it('refuses a tenant that no verified token could carry', () => {
    expect(() => compileOrderFilter(null, '')).toThrow(TypeError)
    expect(() => compileOrderFilter(null, 't'.repeat(129))).toThrow(TypeError)
  })
})

describe('compileUserFilter', () => {
  it('without a filter selects every data event of the tenant', () => {
    const compiled = compileUserFilter(undefined, T)
    expect(compiled).toMatchObject({ collection: 'users', tenant: T, documentFilter: {}, indexKeys: {} })
    expect(compiled.pipeline).toEqual([opStage(ALL), tenantStage()])
  })

  it('constrains userId on the document key and indexes by it', () => {
    const compiled = compileUserFilter({ userId: CUSTOMER.toUpperCase() }, T)
    expect(compiled.pipeline).toEqual([opStage(ALL), tenantStage(), { $match: { 'documentKey._id': { $eq: new ObjectId(CUSTOMER) } } }])
    expect(compiled.documentFilter).toEqual({})
    expect(compiled.indexKeys).toEqual({ _id: CUSTOMER })
  })

  it('maps fields to document field names and keeps updates and replaces', () => {
    const compiled = compileUserFilter({ fields: ['TIER', 'EMAIL', 'TIER', 'PREFERENCES'] }, T)
    const [types, tenant, touched] = compiled.pipeline
    expect(types).toEqual(opStage(['replace', 'update']))
    expect(tenant).toEqual(tenantStage())
    expect(touchedNames(touched)).toEqual([{ $literal: 'email' }, { $literal: 'preferences' }, { $literal: 'tier' }])
    expect(compiled.canonical).toBe(compileUserFilter({ fields: ['PREFERENCES', 'EMAIL', 'TIER'] }, T).canonical)
  })

  it.each<[string, unknown, string]>([
    ['empty fields', { fields: [] }, 'fields must not be an empty list'],
    ['unknown field', { fields: ['email'] }, 'fields entries must be one of'],
    ['operator field', { fields: ['$where'] }, 'fields entries must be one of'],
    ['bad userId', { userId: 'me' }, 'userId must be a 24-character hex ObjectId'],
    ['operator userId', { userId: '{"$ne":null}' }, 'userId must be a 24-character hex ObjectId'],
  ])('rejects %s with BAD_USER_INPUT', (_name, filter, message) => {
    expect(badInput(() => compileUserFilter(filter as UserProfileFilter, T))).toContain(message)
  })
})
