import { ObjectId, type Document } from 'mongodb'
import { describe, expect, it } from 'vitest'
import { ErrorCode, hasCode } from '../../src/errors.js'
import { resolveConfig, type Model } from '../../src/models/index.js'
import { compileChangeFilter, compileDocumentFilter } from '../../src/streams/filters/compiler.js'
import { compileDocumentPredicate, compileEventPredicate } from '../../src/streams/filters/matcher.js'

/** A configuration that is not the demo: a tenant at a nested path, every scalar type, an enum, lists, an object. */
const registry = resolveConfig({
  models: {
    Ticket: {
      collection: 'tickets',
      tenantField: 'org.id',
      fields: {
        org: { object: { id: 'String!', name: 'String' } },
        title: 'String!',
        severity: 'Int',
        score: 'Float',
        open: 'Boolean',
        ref: 'ID',
        assigneeId: 'ObjectId',
        tags: '[String!]',
        watchers: '[ObjectId!]',
        dueAt: 'DateTime',
        priority: { enum: { URGENT: 'p0', NORMAL: 'p2', LOW: 3 } },
        sla: { object: { hours: 'Int', tier: 'String' } },
        lines: { object: { sku: 'String!', qty: 'Int', dims: { object: { w: 'Int' } } }, list: true },
        notes: 'JSON',
      },
      shorthands: {
        minSeverity: { field: 'severity', op: 'gte' },
        ticketIds: { field: 'id', op: 'in' },
        priorityChangedTo: { field: 'priority', op: 'changedTo' },
      },
    },
    Country: { collection: 'countries', tenantField: null, idType: 'String', fields: { name: 'String!', code: 'String' } },
  },
})
const ticket = registry.byName('Ticket')!
const country = registry.byName('Country')!

const T = 'tenant-a'
const HEX = '65f0a1b2c3d4e5f601234567'
const HEX2 = '65f0a1b2c3d4e5f601234568'

const where = (w: unknown): Document => compileDocumentFilter(ticket, null, w)
const change = (filter: unknown, tenant = T, model: Model = ticket) => compileChangeFilter(model, filter, tenant)

function badInput(compile: () => unknown): string {
  try {
    compile()
  } catch (error) {
    expect(hasCode(error, ErrorCode.BAD_USER_INPUT)).toBe(true)
    return (error as Error).message
  }
  throw new Error('expected BAD_USER_INPUT')
}

describe('where: comparisons', () => {
  it.each<[string, unknown, Document]>([
    ['eq', { severity: { eq: 3 } }, { severity: { $eq: 3 } }],
    ['ne', { severity: { ne: 3 } }, { severity: { $ne: 3 } }],
    ['gt', { severity: { gt: 3 } }, { severity: { $gt: 3 } }],
    ['gte', { severity: { gte: 3 } }, { severity: { $gte: 3 } }],
    ['lt', { severity: { lt: 3 } }, { severity: { $lt: 3 } }],
    ['lte', { severity: { lte: 3 } }, { severity: { $lte: 3 } }],
    ['in (sorted, deduplicated)', { severity: { in: [5, 1, 5] } }, { severity: { $in: [1, 5] } }],
    ['notIn', { severity: { notIn: [2] } }, { severity: { $nin: [2] } }],
    ['exists true', { severity: { exists: true } }, { severity: { $exists: true } }],
    ['exists false', { severity: { exists: false } }, { severity: { $exists: false } }],
    ['several operators on one field, in canonical order', { severity: { lte: 5, gte: 1, ne: 3 } }, { severity: { $ne: 3, $gte: 1, $lte: 5 } }],
    ['list contains', { tags: { contains: 'vip' } }, { tags: { $elemMatch: { $eq: 'vip' } } }],
    ['list containsAny', { tags: { containsAny: ['b', 'a', 'b'] } }, { tags: { $elemMatch: { $in: ['a', 'b'] } } }],
    ['list isEmpty true', { tags: { isEmpty: true } }, { tags: { $size: 0 } }],
    ['list isEmpty false', { tags: { isEmpty: false } }, { 'tags.0': { $exists: true } }],
    ['list exists', { tags: { exists: true } }, { tags: { $exists: true } }],
    ['string range', { title: { gte: 'a', lt: 'b' } }, { title: { $gte: 'a', $lt: 'b' } }],
    ['Float', { score: { gt: 0.5 } }, { score: { $gt: 0.5 } }],
    ['Boolean', { open: { eq: false } }, { open: { $eq: false } }],
    ['ID', { ref: { eq: 'r-1' } }, { ref: { $eq: 'r-1' } }],
    ['two fields', { severity: { gte: 2 }, open: { eq: true } }, { severity: { $gte: 2 }, open: { $eq: true } }],
  ])('%s', (_name, input, expected) => {
    expect(where(input)).toEqual(expected)
  })

  it('DateTime compares the Date it is given', () => {
    const at = new Date('2026-03-01T00:00:00Z')
    const query = where({ dueAt: { lt: at } })
    expect(query).toEqual({ dueAt: { $lt: at } })
    expect((query.dueAt as Document).$lt).toBeInstanceOf(Date)
  })

  it('ObjectId fields compare ObjectIds, also in lists', () => {
    const query = where({ assigneeId: { in: [HEX2, HEX, HEX] }, watchers: { contains: HEX } })
    expect(query).toEqual({
      assigneeId: { $in: [new ObjectId(HEX), new ObjectId(HEX2)] },
      watchers: { $elemMatch: { $eq: new ObjectId(HEX) } },
    })
    expect((query.assigneeId as Document).$in[0]).toBeInstanceOf(ObjectId)
  })

  it('enums compare stored values (strings and numbers)', () => {
    expect(where({ priority: { eq: 'URGENT' } })).toEqual({ priority: { $eq: 'p0' } })
    expect(where({ priority: { in: ['URGENT', 'LOW', 'NORMAL'] } })).toEqual({ priority: { $in: [3, 'p0', 'p2'] } })
    expect(where({ priority: { notIn: ['LOW'] } })).toEqual({ priority: { $nin: [3] } })
  })

  it('nested objects compare at their dotted path', () => {
    expect(where({ sla: { hours: { gte: 4 }, tier: { eq: 'gold' } } })).toEqual({ 'sla.hours': { $gte: 4 }, 'sla.tier': { $eq: 'gold' } })
    expect(where({ org: { name: { eq: 'Acme' } } })).toEqual({ 'org.name': { $eq: 'Acme' } })
  })

  it('the fields of a list of objects must hold for one element ($elemMatch)', () => {
    expect(where({ lines: { sku: { eq: 'a' }, qty: { gte: 5 } } })).toEqual({ lines: { $elemMatch: { sku: { $eq: 'a' }, qty: { $gte: 5 } } } })
    expect(where({ lines: { dims: { w: { lt: 3 } } } })).toEqual({ lines: { $elemMatch: { 'dims.w': { $lt: 3 } } } })
    expect(where({ lines: {} })).toEqual({})
    expect(badInput(() => where({ lines: { NOT: { qty: { eq: 1 } } } }))).toBe('where.lines.NOT is not a filterable field')
    const matches = compileDocumentPredicate(where({ lines: { sku: { eq: 'a' }, qty: { gte: 5 } } }))
    expect(matches({ lines: [{ sku: 'a', qty: 9 }] })).toBe(true)
    expect(matches({ lines: [{ sku: 'a', qty: 1 }, { sku: 'b', qty: 9 }] })).toBe(false)
  })

  it('null and omitted comparisons are no constraint', () => {
    expect(where({ severity: null, sla: null })).toEqual({})
    expect(where({ sla: {} })).toEqual({})
    expect(where(null)).toEqual({})
  })

  it.each<[string, unknown, string]>([
    ['Int given 1.5', { severity: { eq: 1.5 } }, 'where.severity.eq must be an integer'],
    ['Int given a string', { severity: { gt: '3' } }, 'where.severity.gt must be a finite number'],
    ['Float given NaN', { score: { lt: Number.NaN } }, 'where.score.lt must be a finite number'],
    ['Float given Infinity', { score: { lt: Number.POSITIVE_INFINITY } }, 'where.score.lt must be a finite number'],
    ['Boolean given a string', { open: { eq: 'true' } }, 'where.open.eq must be true or false'],
    ['DateTime given a string', { dueAt: { lt: '2026-03-01' } }, 'where.dueAt.lt must be an ISO-8601 date-time'],
    ['DateTime given an invalid Date', { dueAt: { lt: new Date('nope') } }, 'where.dueAt.lt must be an ISO-8601 date-time'],
    ['String given a number', { title: { eq: 3 } }, 'where.title.eq must be a string'],
    ['String too long', { title: { eq: 'x'.repeat(1025) } }, 'where.title.eq must be at most 1024 characters'],
    ['ObjectId not hex', { assigneeId: { eq: 'not-an-object-id-at-all!' } }, 'where.assigneeId.eq must be a 24-character hex ObjectId'],
    ['ObjectId in a list not hex', { watchers: { containsAny: [HEX, 'zz'] } }, 'where.watchers.containsAny[1] must be a 24-character hex ObjectId'],
    ['an unknown enum value', { priority: { eq: 'HIGH' } }, 'where.priority.eq must be one of URGENT, NORMAL, LOW'],
    ['an enum given its stored value', { priority: { eq: 'p0' } }, 'where.priority.eq must be one of URGENT, NORMAL, LOW'],
    ['an unknown enum value in a list', { priority: { in: ['URGENT', 'HIGH'] } }, 'where.priority.in[1] must be one of URGENT, NORMAL, LOW'],
    ['an ordering on a Boolean', { open: { gt: false } }, 'where.open.gt is not a comparison of this field'],
    ['an ordering on an enum', { priority: { gte: 'NORMAL' } }, 'where.priority.gte is not a comparison of this field'],
    ['eq on a list', { tags: { eq: 'vip' } }, 'where.tags.eq is not a comparison of this field'],
    ['contains on a scalar', { title: { contains: 'x' } }, 'where.title.contains is not a comparison of this field'],
    ['isEmpty not a boolean', { tags: { isEmpty: 'yes' } }, 'where.tags.isEmpty must be true or false'],
    ['exists not a boolean', { severity: { exists: 1 } }, 'where.severity.exists must be true or false'],
    ['an empty comparison', { severity: {} }, 'where.severity must set at least one comparison'],
    ['a comparison that is no object', { severity: 3 }, 'where.severity must be an object'],
    ['an unknown field', { colour: { eq: 'red' } }, 'where.colour is not a filterable field'],
    ['a JSON field', { notes: { exists: true } }, 'where.notes is not a filterable field'],
    ['the tenant field', { org: { id: { eq: 'tenant-b' } } }, 'where.org.id is not a filterable field'],
    ['an unknown nested field', { sla: { minutes: { eq: 1 } } }, 'where.sla.minutes is not a filterable field'],
    ['logic inside a nested object', { sla: { OR: [{ hours: { eq: 1 } }] } }, 'where.sla.OR is not a filterable field'],
    ['an operator as a field name', { $where: 'sleep(1000)' }, 'where.$where is not a filterable field'],
    ['in with no values', { severity: { in: [] } }, 'where.severity.in must not be an empty list; omit it for no constraint'],
    ['in with 101 values', { severity: { in: Array.from({ length: 101 }, (_, n) => n) } }, 'where.severity.in must have at most 100 entries'],
    ['containsAny with 101 values', { tags: { containsAny: Array.from({ length: 101 }, (_, n) => `t${n}`) } }, 'where.tags.containsAny must have at most 100 entries'],
    ['notIn that is no list', { severity: { notIn: 3 } }, 'where.severity.notIn must be a list'],
    ['an empty OR', { OR: [] }, 'where.OR must not be an empty list; omit it for no constraint'],
    ['a bad value inside OR', { OR: [{ severity: { eq: 1 } }, { severity: { eq: 'x' } }] }, 'where.OR[1].severity.eq must be a finite number'],
    ['a bad value inside NOT', { NOT: { priority: { eq: 'HIGH' } } }, 'where.NOT.priority.eq must be one of URGENT, NORMAL, LOW'],
  ])('rejects %s with BAD_USER_INPUT naming the argument', (_name, input, message) => {
    expect(badInput(() => where(input))).toBe(message)
    expect(badInput(() => change({ where: input }))).toBe(message)
  })

  it('accepts 100 values in a list', () => {
    const values = Array.from({ length: 100 }, (_, n) => n)
    const list = (where({ severity: { in: [...values].reverse() } }).severity as Document).$in as number[]
    expect([...list].sort((a, b) => a - b)).toEqual(values)
  })
})

describe('compileDocumentFilter (list queries)', () => {
  it('combines document shorthands and where with AND, and refuses event shorthands', () => {
    expect(compileDocumentFilter(ticket, { minSeverity: 2 }, { priority: { eq: 'URGENT' } })).toEqual({ severity: { $gte: 2 }, priority: { $eq: 'p0' } })
    expect(compileDocumentFilter(ticket, { minSeverity: 2 }, { severity: { lte: 4 } })).toEqual({ severity: { $gte: 2, $lte: 4 } })
    expect(badInput(() => compileDocumentFilter(ticket, { priorityChangedTo: ['URGENT'] }, null))).toBe('filter.priorityChangedTo is not a filter argument')
    expect(badInput(() => compileDocumentFilter(ticket, { ticketIds: [HEX] }, null))).toBe('filter.ticketIds is not a filter argument')
    expect(badInput(() => compileDocumentFilter(ticket, { minSeverity: 1.5 }, null))).toBe('minSeverity must be an integer')
  })
})

describe('where: AND, OR, NOT and bounds', () => {
  it('AND, OR and NOT become $and, $or and $nor', () => {
    expect(where({ AND: [{ severity: { gte: 1 } }, { open: { eq: true } }] })).toEqual({ $and: [{ severity: { $gte: 1 } }, { open: { $eq: true } }] })
    expect(where({ OR: [{ tags: { contains: 'vip' } }, { sla: { hours: { lt: 4 } } }] })).toEqual({
      $or: [{ tags: { $elemMatch: { $eq: 'vip' } } }, { 'sla.hours': { $lt: 4 } }],
    })
    expect(where({ NOT: { priority: { eq: 'LOW' } } })).toEqual({ $nor: [{ priority: { $eq: 3 } }] })
  })

  it('fields and logic combine with $and', () => {
    expect(where({ severity: { gte: 2 }, OR: [{ open: { eq: true } }, { NOT: { tags: { isEmpty: true } } }] })).toEqual({
      $and: [{ severity: { $gte: 2 } }, { $or: [{ open: { $eq: true } }, { $nor: [{ tags: { $size: 0 } }] }] }],
    })
  })

  const nots = (levels: number, inner: Document): Document => (levels === 0 ? inner : { NOT: nots(levels - 1, inner) })

  it('nests up to 5 levels', () => {
    expect(where(nots(4, { severity: { eq: 1 } }))).toEqual({ $nor: [{ $nor: [{ $nor: [{ $nor: [{ severity: { $eq: 1 } }] }] }] }] })
    expect(Object.keys(where(nots(3, { sla: { hours: { eq: 1 } } })))).toEqual(['$nor'])
  })

  it('rejects 6 levels, counting nested objects as levels', () => {
    expect(badInput(() => where(nots(5, { severity: { eq: 1 } })))).toBe('where must nest at most 5 levels')
    expect(badInput(() => where(nots(4, { sla: { hours: { eq: 1 } } })))).toBe('where must nest at most 5 levels')
    expect(badInput(() => where({ AND: [{ OR: [{ AND: [{ OR: [{ NOT: { open: { eq: true } } }] }] }] }] }))).toBe('where must nest at most 5 levels')
  })

  it('allows 50 comparisons and rejects 51, counting every operator and the shorthands', () => {
    const eqs = (n: number) => Array.from({ length: n }, (_, k) => ({ severity: { eq: k } }))
    expect(where({ OR: eqs(50) }).$or).toHaveLength(50)
    expect(badInput(() => where({ OR: eqs(51) }))).toBe('where must have at most 50 comparisons')
    expect(badInput(() => where({ OR: eqs(49), severity: { gte: 1, lte: 9 } }))).toBe('where must have at most 50 comparisons')
    expect(change({ where: { OR: eqs(49) }, minSeverity: 1 }).pipeline).toHaveLength(3)
    expect(badInput(() => change({ where: { OR: eqs(50) }, minSeverity: 1 }))).toBe('where must have at most 50 comparisons')
  })
})

describe('compileChangeFilter for a configured model', () => {
  const ALL = ['delete', 'insert', 'replace', 'update']
  const opStage = (types: string[]) => ({ $match: { operationType: { $in: types } } })
  const tenantStage = (tenant: string) => ({
    $match: { $or: [{ 'fullDocument.org.id': { $eq: tenant } }, { 'fullDocumentBeforeChange.org.id': { $eq: tenant } }] },
  })

  it('puts the tenant at the configured tenant path', () => {
    expect(change(null).pipeline).toEqual([opStage(ALL), tenantStage(T)])
  })

  it('applies where to both images and keeps it as the document filter', () => {
    const compiled = change({ where: { sla: { hours: { gte: 4 } }, priority: { eq: 'URGENT' } } })
    expect(compiled.documentFilter).toEqual({ priority: { $eq: 'p0' }, 'sla.hours': { $gte: 4 } })
    expect(compiled.pipeline).toEqual([
      opStage(ALL),
      tenantStage(T),
      {
        $match: {
          $or: [
            { 'fullDocument.priority': { $eq: 'p0' }, 'fullDocument.sla.hours': { $gte: 4 } },
            { 'fullDocumentBeforeChange.priority': { $eq: 'p0' }, 'fullDocumentBeforeChange.sla.hours': { $gte: 4 } },
          ],
        },
      },
    ])
    expect(compiled).toMatchObject({ collection: 'tickets', tenant: T, tenantField: 'org.id' })
  })

  it('rewrites paths inside $and, $or and $nor for each image', () => {
    const compiled = change({ where: { OR: [{ severity: { eq: 1 } }], NOT: { open: { eq: true } } } })
    expect(compiled.pipeline[2]).toEqual({
      $match: {
        $or: [
          { $and: [{ $or: [{ 'fullDocument.severity': { $eq: 1 } }] }, { $nor: [{ 'fullDocument.open': { $eq: true } }] }] },
          { $and: [{ $or: [{ 'fullDocumentBeforeChange.severity': { $eq: 1 } }] }, { $nor: [{ 'fullDocumentBeforeChange.open': { $eq: true } }] }] },
        ],
      },
    })
  })

  it('gives byte-identical canonical pipelines for equivalent wheres', () => {
    const a = change({
      where: { priority: { in: ['URGENT', 'LOW'] }, tags: { containsAny: ['b', 'a'] }, assigneeId: { in: [HEX, HEX2] }, sla: { hours: { gte: 2 } } },
    })
    const b = change({
      operationTypes: null,
      where: {
        sla: { tier: null, hours: { gte: 2 } },
        assigneeId: { in: [HEX2, HEX, HEX2] },
        tags: { containsAny: ['a', 'b', 'a', 'b'] },
        priority: { in: ['LOW', 'URGENT', 'LOW'] },
        severity: null,
      },
    })
    expect(b.canonical).toBe(a.canonical)
    expect(b.pipeline).toEqual(a.pipeline)
    expect(change({ changed: ['TITLE', 'DUE_AT'] }).canonical).toBe(change({ changed: ['DUE_AT', 'TITLE', 'DUE_AT'] }).canonical)
  })

  it('gives different canonical pipelines for different values, types and tenants', () => {
    const base = change({ where: { severity: { eq: 1 } } })
    expect(change({ where: { severity: { eq: 2 } } }).canonical).not.toBe(base.canonical)
    expect(change({ where: { severity: { eq: 1 } } }, 'tenant-b').canonical).not.toBe(base.canonical)
    expect(change({ where: { severity: { eq: 1 } } }, 'tenant-b').pipeline).toEqual([opStage(ALL), tenantStage('tenant-b'), base.pipeline[2]])
    expect(change({ where: { score: { eq: 1.5 } } }).canonical).not.toBe(change({ where: { score: { eq: 1 } } }).canonical)
    expect(change({ where: { assigneeId: { eq: HEX } } }).canonical).not.toBe(change({ where: { ref: { eq: HEX } } }).canonical)
  })

  it('has no tenant stage for a model without tenancy', () => {
    const compiled = change({ where: { code: { eq: 'FR' } } }, T, country)
    expect(compiled.tenantField).toBeNull()
    expect(compiled.pipeline).toEqual([
      opStage(ALL),
      { $match: { $or: [{ 'fullDocument.code': { $eq: 'FR' } }, { 'fullDocumentBeforeChange.code': { $eq: 'FR' } }] } },
    ])
    expect(JSON.stringify(compiled.pipeline)).not.toContain(T)
  })

  it('watches one document by id: a documentKey stage and an _id index key', () => {
    const compiled = change({ id: HEX })
    expect(compiled.pipeline).toEqual([opStage(ALL), tenantStage(T), { $match: { 'documentKey._id': { $eq: new ObjectId(HEX) } } }])
    expect(compiled.indexKeys).toEqual({ _id: HEX })
    expect(badInput(() => change({ id: 'nope' }))).toBe('id must be a 24-character hex ObjectId')
  })

  it('takes string ids for a model whose idType is String', () => {
    const compiled = change({ id: 'FR' }, T, country)
    expect(compiled.pipeline).toEqual([opStage(ALL), { $match: { 'documentKey._id': { $eq: 'FR' } } }])
    expect(compiled.indexKeys).toEqual({ _id: 'FR' })
  })

  it('merges id shorthands into one sorted $in', () => {
    const compiled = change({ ticketIds: [HEX2, HEX, HEX2] })
    expect(compiled.pipeline[2]).toEqual({ $match: { 'documentKey._id': { $in: [new ObjectId(HEX), new ObjectId(HEX2)] } } })
    expect(compiled.indexKeys).toEqual({})
  })

  it('id arguments together select the ids all of them allow', () => {
    const compiled = change({ id: HEX, ticketIds: [HEX2, HEX] })
    expect(compiled.pipeline[2]).toEqual({ $match: { 'documentKey._id': { $eq: new ObjectId(HEX) } } })
    expect(compiled.indexKeys).toEqual({ _id: HEX })
    expect(badInput(() => change({ id: HEX, ticketIds: [HEX2] }))).toBe('id and ticketIds have no id in common')
  })

  it('indexes subscribers by a top-level string equality', () => {
    expect(change({ where: { title: { eq: 'x' } } }).indexKeys).toEqual({ title: 'x' })
    expect(change({ where: { assigneeId: { eq: HEX } } }).indexKeys).toEqual({ assigneeId: HEX })
    expect(change({ where: { severity: { eq: 1 } } }).indexKeys).toEqual({})
    expect(change({ where: { sla: { tier: { eq: 'gold' } } } }).indexKeys).toEqual({})
  })

  it('changed: a touched-fields stage on stored names, and only updates and replaces', () => {
    const compiled = change({ changed: ['TITLE', 'DUE_AT', 'SLA'] })
    expect(compiled.pipeline[0]).toEqual(opStage(['replace', 'update']))
    const touched = JSON.stringify(compiled.pipeline[2])
    expect(touched).toContain('[{"$literal":"dueAt"},{"$literal":"sla"},{"$literal":"title"}]')
    expect(change({ changed: ['TITLE'], operationTypes: ['INSERT', 'UPDATE'] }).pipeline[0]).toEqual(opStage(['update']))
    expect(badInput(() => change({ changed: ['TITLE'], operationTypes: ['INSERT', 'DELETE'] }))).toBe(
      'operationTypes selects no operation that changed can match (only updates and replaces change fields)',
    )
    expect(badInput(() => change({ changed: ['title'] }))).toMatch(/^changed entries must be one of ORG, TITLE, /)
    expect(badInput(() => change({ changed: [] }))).toBe('changed must not be an empty list; omit it for no constraint')
  })

  it('changedTo shorthands compare stored enum values', () => {
    const compiled = change({ priorityChangedTo: ['URGENT', 'LOW'] })
    expect(compiled.pipeline[0]).toEqual(opStage(['replace', 'update']))
    expect(compiled.pipeline[2]).toEqual({
      $match: {
        $or: [
          { operationType: 'update', 'updateDescription.updatedFields.priority': { $in: [3, 'p0'] } },
          { operationType: 'replace', 'fullDocument.priority': { $in: [3, 'p0'] } },
        ],
      },
    })
  })

  it('rejects unknown filter arguments', () => {
    expect(badInput(() => change({ minTotal: 3 }))).toBe('filter.minTotal is not a filter argument')
  })
})

describe('no client string becomes a key', () => {
  const COMPILER_KEYS = new Set(['operationType', 'documentKey._id', 'input', 'as', 'in', 'cond'])
  const OPERATORS = new Set([
    '$match', '$and', '$or', '$nor', '$eq', '$ne', '$gt', '$gte', '$lt', '$lte', '$in', '$nin', '$exists', '$elemMatch', '$size',
    '$expr', '$concatArrays', '$map', '$objectToArray', '$ifNull', '$literal', '$filter', '$arrayElemAt', '$split',
  ])
  const PREFIXES = ['fullDocument.', 'fullDocumentBeforeChange.', 'updateDescription.updatedFields.']
  const configured = new Set(['org', 'id', 'name', 'title', 'severity', 'score', 'open', 'ref', 'assigneeId', 'tags', 'watchers', 'dueAt', 'priority', 'sla', 'hours', 'tier', 'lines', 'sku', 'qty', 'dims', 'w', '0'])

  function keysOf(value: unknown, into: string[] = []): string[] {
    if (Array.isArray(value)) for (const item of value) keysOf(item, into)
    else if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
      for (const [key, item] of Object.entries(value)) {
        into.push(key)
        keysOf(item, into)
      }
    }
    return into
  }

  const isAllowed = (key: string) => {
    if (key.startsWith('$')) return OPERATORS.has(key)
    if (COMPILER_KEYS.has(key)) return true
    const prefix = PREFIXES.find((p) => key.startsWith(p))
    const path = prefix ? key.slice(prefix.length) : key
    return path.split('.').every((segment) => configured.has(segment))
  }

  it('every key is an operator the compiler chose or a path of configured fields', () => {
    const hostile = ['$where', 'fullDocument.notes', '__proto__', 'constructor', '$function', 'a.b', '{"$gt":""}']
    const compiled = change({
      id: HEX,
      operationTypes: ['UPDATE', 'REPLACE'],
      changed: ['TITLE', 'SLA'],
      minSeverity: 2,
      priorityChangedTo: ['URGENT'],
      where: {
        title: { in: hostile, ne: '$where' },
        ref: { eq: '__proto__' },
        tags: { containsAny: hostile, isEmpty: false },
        sla: { tier: { notIn: hostile } },
        OR: [{ org: { name: { eq: '$ne' } } }, { NOT: { watchers: { contains: HEX } } }],
        AND: [{ assigneeId: { exists: true } }, { dueAt: { gte: new Date(0) } }, { lines: { sku: { in: hostile }, dims: { w: { ne: 1 } } } }],
      },
    })
    const keys = keysOf(compiled.pipeline)
    expect(keys.filter((k) => !isAllowed(k))).toEqual([])
    for (const value of hostile) expect(keys).not.toContain(value)
    expect(keysOf(compiled.documentFilter).filter((k) => !isAllowed(k))).toEqual([])
    // the hostile strings are there, as values
    expect(JSON.stringify(compiled.pipeline)).toContain('"$where"')
  })

  it('reads only the arguments a client set, never inherited properties', () => {
    const tricky = resolveConfig({
      models: { Note: { collection: 'notes', tenantField: null, fields: { constructor: 'String', toString: 'Int' }, shorthands: { valueOf: { field: 'toString', op: 'gte' } } } },
    }).byName('Note')!
    expect(compileDocumentFilter(tricky, {}, {})).toEqual({})
    expect(compileChangeFilter(tricky, { where: {} }, T).pipeline).toEqual([{ $match: { operationType: { $in: ['delete', 'insert', 'replace', 'update'] } } }])
    expect(compileDocumentFilter(tricky, { valueOf: 3 }, { constructor: { eq: 'x' } })).toEqual({ toString: { $gte: 3 }, constructor: { $eq: 'x' } })
  })
})

describe('compiled pipelines evaluated on change events', () => {
  const ID = new ObjectId(HEX)
  const ticketDoc = (overrides: Document = {}): Document => ({
    _id: ID,
    org: { id: T, name: 'Acme' },
    title: 'Printer on fire',
    severity: 1,
    tags: [],
    watchers: [],
    priority: 'p2',
    sla: { hours: 8, tier: 'gold' },
    ...overrides,
  })
  const event = (operationType: string, before: Document | null, after: Document | null, updatedFields: Document = {}): Document => ({
    operationType,
    documentKey: { _id: ID },
    ns: { db: 'test', coll: 'tickets' },
    ...(after ? { fullDocument: after } : {}),
    ...(before ? { fullDocumentBeforeChange: before } : {}),
    ...(operationType === 'update' ? { updateDescription: { updatedFields, removedFields: [], truncatedArrays: [] } } : {}),
  })

  it('a where with OR, NOT and contains on a list matches what it says', () => {
    const compiled = change({ where: { OR: [{ tags: { contains: 'vip' } }, { severity: { gte: 4 } }], NOT: { priority: { eq: 'LOW' } } } })
    const matches = compileEventPredicate(compiled.pipeline)
    const inDocument = compileDocumentPredicate(compiled.documentFilter)
    const cases: [string, Document, boolean][] = [
      ['vip tag', ticketDoc({ tags: ['x', 'vip'] }), true],
      ['high severity', ticketDoc({ severity: 5 }), true],
      ['high severity but LOW priority', ticketDoc({ severity: 5, priority: 3 }), false],
      ['neither', ticketDoc({ tags: ['x'], severity: 2 }), false],
      ['vip of another tenant', ticketDoc({ tags: ['vip'], org: { id: 'tenant-b' } }), false],
    ]
    for (const [name, doc, expected] of cases) {
      expect([name, matches(event('insert', null, doc))]).toEqual([name, expected])
      if (name !== 'vip of another tenant') expect([name, inDocument(doc)]).toEqual([name, expected])
    }
    // an update leaving the filter still reaches the gateway (LEFT), one staying out does not
    expect(matches(event('update', ticketDoc({ severity: 5 }), ticketDoc({ severity: 1 }), { severity: 1 }))).toBe(true)
    expect(matches(event('update', ticketDoc({ severity: 1 }), ticketDoc({ severity: 2 }), { severity: 2 }))).toBe(false)
    // a delete reaches it only with a pre-image of the tenant
    expect(matches(event('delete', ticketDoc({ severity: 5 }), null))).toBe(true)
    expect(matches(event('delete', null, null))).toBe(false)
  })

  it('typed values match stored BSON: ObjectIds, Dates, nested paths, enum stored values', () => {
    const compiled = change({
      where: { watchers: { contains: HEX2 }, dueAt: { lt: new Date('2026-06-01T00:00:00Z') }, sla: { hours: { lte: 8 } }, priority: { in: ['NORMAL'] } },
    })
    const matches = compileEventPredicate(compiled.pipeline)
    const doc = ticketDoc({ watchers: [new ObjectId(HEX), new ObjectId(HEX2)], dueAt: new Date('2026-05-01T00:00:00Z') })
    expect(matches(event('insert', null, doc))).toBe(true)
    expect(matches(event('insert', null, { ...doc, dueAt: new Date('2026-07-01T00:00:00Z') }))).toBe(false)
    expect(matches(event('insert', null, { ...doc, watchers: [new ObjectId(HEX)] }))).toBe(false)
    expect(matches(event('insert', null, { ...doc, sla: { hours: 9 } }))).toBe(false)
    expect(matches(event('insert', null, { ...doc, priority: 'NORMAL' }))).toBe(false)
  })

  it('isEmpty and exists on lists', () => {
    const empty = compileEventPredicate(change({ where: { tags: { isEmpty: true } } }).pipeline)
    const nonEmpty = compileEventPredicate(change({ where: { tags: { isEmpty: false } } }).pipeline)
    expect([empty(event('insert', null, ticketDoc())), nonEmpty(event('insert', null, ticketDoc()))]).toEqual([true, false])
    expect([empty(event('insert', null, ticketDoc({ tags: ['a'] }))), nonEmpty(event('insert', null, ticketDoc({ tags: ['a'] })))]).toEqual([false, true])
  })

  it('changed matches updates touching the listed top-level fields, and replaces', () => {
    const matches = compileEventPredicate(change({ changed: ['SLA'] }).pipeline)
    const doc = ticketDoc()
    expect(matches(event('update', doc, doc, { 'sla.hours': 4 }))).toBe(true)
    expect(matches(event('update', doc, doc, { title: 'x' }))).toBe(false)
    expect(matches(event('replace', doc, doc))).toBe(true)
    expect(matches(event('insert', null, doc))).toBe(false)
  })

  it('a model without tenancy matches every tenant', () => {
    const matches = compileEventPredicate(change({ where: { code: { eq: 'FR' } } }, 'anyone', country).pipeline)
    expect(matches({ operationType: 'insert', documentKey: { _id: 'FR' }, fullDocument: { _id: 'FR', name: 'France', code: 'FR' } })).toBe(true)
    expect(matches({ operationType: 'insert', documentKey: { _id: 'DE' }, fullDocument: { _id: 'DE', name: 'Germany', code: 'DE' } })).toBe(false)
  })
})
