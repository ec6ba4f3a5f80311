import type { Document } from 'mongodb'
import { badUserInput } from '../../errors.js'
import type { Model, ResolvedShorthand } from '../../models/index.js'
import { checkFilterObject, checkTenant, enumList, fieldNameList, listArgument, objectIdArgument, stringArgument } from './arguments.js'
import { idString } from '../../mongo/ids.js'
import { canonicalList, combineClauses, compileComparison, type Budget } from './comparisons.js'
import {
  ALL_OPERATION_TYPES,
  canonicalize,
  changedToStage,
  documentStage,
  operationTypeStage,
  tenantStage,
  TOUCHING_OPERATION_TYPES,
  touchedFieldsStage,
  type MongoOperationType,
} from './stages.js'
import { compileWhere } from './where.js'

/**
 * Subscription filters → change stream pipelines (DESIGN §5 "Semantics", §8), for any configured model.
 *
 * A pure function of (model, filter, tenant): the same inputs give the same `$match` stages, and equivalent inputs
 * (lists in another order, with duplicates, a null instead of an omitted field) give byte-identical `canonical`
 * strings, so subscribers with equal filters share one compiled predicate. Client values never become operators
 * or paths: they appear only as typed values under operators the compiler chose, or as `{ $literal }` in `$expr`.
 */

export const OPERATION_TYPES = ['INSERT', 'UPDATE', 'REPLACE', 'DELETE'] as const
export type OperationType = (typeof OPERATION_TYPES)[number]

export interface CompiledFilter {
  readonly collection: string
  /** The subscriber's tenant: cursors and deliveries are bound to it. */
  readonly tenant: string
  /** Where the tenant sits in the documents; null for a model every caller sees. */
  readonly tenantField: string | null
  /** Canonical $match stages to append after $changeStream: the whole filter incl. tenant. */
  readonly pipeline: Document[]
  /** EJSON (relaxed:false) stringification of pipeline; byte-identical for identical (or equivalent) filters. */
  readonly canonical: string
  /** Query on the document itself (no tenant), used for transitions; {} when no document constraint. */
  readonly documentFilter: Document
  /** Equality keys usable to index subscribers, e.g. { customerId: '<24hex>' } or { _id: '<24hex>' }; {} when none. */
  readonly indexKeys: Readonly<Record<string, string>>
}

/** Compiles a model's change filter (`<Model>ChangeFilter`) for `tenant`. Throws BAD_USER_INPUT naming the argument. */
export function compileChangeFilter(model: Model, filter: unknown, tenant: string): CompiledFilter {
  const f = checkFilterObject('filter', filter)
  checkTenant(tenant)
  const known = new Set(['id', 'operationTypes', 'where', 'changed', ...model.shorthands.map((s) => s.name)])
  for (const key of Object.keys(f)) if (!known.has(key)) throw badUserInput(`filter.${key} is not a filter argument`)

  const budget: Budget = { comparisons: 0 }
  const requested = enumList('operationTypes', f.operationTypes, OPERATION_TYPES)
  /** Each id argument is one constraint; together they select the ids all of them allow. */
  const idConstraints: { readonly name: string; readonly ids: unknown[] }[] = []
  if (f.id !== undefined && f.id !== null) idConstraints.push({ name: 'id', ids: [idValue(model, f.id, 'id')] })
  const documentClauses: Document[] = []
  const eventStages: Document[] = []
  const touched: string[][] = []
  /** Arguments that select updates and replaces only, as the request named them. */
  const changeArguments: string[] = []
  const changedFields = fieldEnumList(model, 'changed', f.changed)
  if (changedFields) {
    touched.push(changedFields)
    changeArguments.push('changed')
  }
  const bounds = new Map<string, { lower?: [string, number]; upper?: [string, number] }>()

  for (const shorthand of model.shorthands) {
    const value = f[shorthand.name]
    if (value === undefined || value === null) continue
    const { field, op, name } = shorthand
    if (op === 'changed' || op === 'changedNames' || op === 'changedTo') changeArguments.push(name)
    if (op === 'changed') touched.push(fieldEnumList(model, name, value)!)
    else if (op === 'changedNames') touched.push(fieldNameList(name, value)!)
    else if (field === 'id') {
      const ids = op === 'in' ? listArgument(name, value)!.map((v, n) => idValue(model, v, `${name}[${n}]`)) : [idValue(model, value, name)]
      idConstraints.push({ name, ids })
    } else if (op === 'changedTo') eventStages.push(changedToStage(field!.path, canonicalList(field!, value, name)))
    else {
      documentClauses.push(...compileComparison(field!, field!.path, { [op]: value }, name, budget, true))
      trackBounds(bounds, shorthand, value)
    }
  }
  if (f.where !== undefined && f.where !== null) {
    const where = compileWhere(model, f.where, budget)
    if (Object.keys(where).length > 0) documentClauses.push(where)
  }

  let types: readonly MongoOperationType[] = ALL_OPERATION_TYPES
  if (requested) types = types.filter((t) => requested.includes(t.toUpperCase() as OperationType))
  if (touched.length > 0 || eventStages.length > 0) types = types.filter((t) => TOUCHING_OPERATION_TYPES.includes(t))
  if (types.length === 0) {
    // Named as the request wrote it, nothing more: production answers never name what the request did not.
    throw badUserInput(`operationTypes selects no operation that ${changeArguments.join(' or ')} can match (only updates and replaces change fields)`)
  }

  const documentFilter = combineClauses(documentClauses)
  const pipeline: Document[] = [operationTypeStage(types)]
  if (model.tenantField !== null) pipeline.push(tenantStage(model.tenantField, tenant))
  const uniqueIds = idConstraints.length > 0 ? commonIds(idConstraints) : undefined
  if (uniqueIds) pipeline.push({ $match: { 'documentKey._id': uniqueIds.length === 1 ? { $eq: uniqueIds[0] } : { $in: uniqueIds } } })
  if (Object.keys(documentFilter).length > 0) pipeline.push(documentStage(documentFilter))
  pipeline.push(...eventStages)
  for (const names of touched) pipeline.push(touchedFieldsStage(names))

  return {
    collection: model.collection,
    tenant,
    tenantField: model.tenantField,
    pipeline,
    canonical: canonicalize(pipeline),
    documentFilter,
    indexKeys: indexKeysOf(uniqueIds, documentFilter),
  }
}

/** Compiles a list query's document filter: the flat `filter` shorthands (document comparisons only) and `where`. */
export function compileDocumentFilter(model: Model, filter: unknown, where: unknown): Document {
  const f = checkFilterObject('filter', filter)
  const budget: Budget = { comparisons: 0 }
  const clauses: Document[] = []
  const bounds = new Map<string, { lower?: [string, number]; upper?: [string, number] }>()
  const usable = model.shorthands.filter(isDocumentShorthand)
  for (const key of Object.keys(f)) if (!usable.some((s) => s.name === key)) throw badUserInput(`filter.${key} is not a filter argument`)
  for (const shorthand of usable) {
    const value = f[shorthand.name]
    if (value === undefined || value === null) continue
    const field = shorthand.field as Exclude<ResolvedShorthand['field'], 'id' | undefined>
    clauses.push(...compileComparison(field, field.path, { [shorthand.op]: value }, shorthand.name, budget, true))
    trackBounds(bounds, shorthand, value)
  }
  if (where !== undefined && where !== null) {
    const query = compileWhere(model, where, budget)
    if (Object.keys(query).length > 0) clauses.push(query)
  }
  return combineClauses(clauses)
}

/** Shorthands that constrain the document (comparisons on a field), as opposed to the event. */
export const isDocumentShorthand = (s: ResolvedShorthand): boolean =>
  s.field !== undefined && s.field !== 'id' && s.op !== 'changedTo'

/** `<Model>Field` values (GraphQL names) → stored field names, sorted. */
function fieldEnumList(model: Model, name: string, value: unknown): string[] | undefined {
  const names = enumList(name, value, model.fieldEnum.map((v) => v.name))
  return names && [...new Set(names.map((n) => String(model.fieldEnum.find((v) => v.name === n)!.stored)))].sort()
}

function idValue(model: Model, value: unknown, name: string): unknown {
  return model.idType === 'ObjectId' ? objectIdArgument(name, value) : stringArgument(name, value)
}

/** The ids every constraint allows, deduplicated and sorted; none in common selects nothing, which is an input error. */
function commonIds(constraints: readonly { readonly name: string; readonly ids: unknown[] }[]): unknown[] {
  let byKey = new Map(constraints[0].ids.map((id) => [keyString(id)!, id]))
  for (const { ids } of constraints.slice(1)) {
    const allowed = new Set(ids.map((id) => keyString(id)))
    byKey = new Map([...byKey].filter(([key]) => allowed.has(key)))
  }
  if (byKey.size === 0) throw badUserInput(`${constraints.map((c) => c.name).join(' and ')} have no id in common`)
  return [...byKey.keys()].sort().map((k) => byKey.get(k))
}

/** A `gte`/`gt` shorthand above an `lte`/`lt` one on the same field selects nothing: say so. */
function trackBounds(bounds: Map<string, { lower?: [string, number]; upper?: [string, number] }>, s: ResolvedShorthand, value: unknown) {
  if (typeof value !== 'number' || typeof s.field !== 'object') return
  const entry = bounds.get(s.field.path) ?? {}
  if (s.op === 'gte' || s.op === 'gt') entry.lower = [s.name, value]
  if (s.op === 'lte' || s.op === 'lt') entry.upper = [s.name, value]
  bounds.set(s.field.path, entry)
  if (entry.lower && entry.upper && entry.lower[1] > entry.upper[1]) {
    throw badUserInput(`${entry.lower[0]} must not be greater than ${entry.upper[0]}`)
  }
}

/** The first top-level equality on a string or id field (or the document id) indexes subscribers in the dispatcher. */
function indexKeysOf(ids: unknown[] | undefined, documentFilter: Document): Record<string, string> {
  if (ids?.length === 1) return { _id: keyString(ids[0])! }
  for (const [key, value] of Object.entries(documentFilter)) {
    if (key.startsWith('$') || key.includes('.') || value === null || typeof value !== 'object') continue
    const eq = (value as Document).$eq
    const k = keyString(eq)
    if (k !== undefined && typeof eq !== 'number' && typeof eq !== 'boolean' && !(eq instanceof Date)) return { [key]: k }
  }
  return {}
}

/** How the dispatcher indexes a value: ObjectIds as hex, strings as themselves; nothing for null or missing. */
export const keyString = (value: unknown): string | undefined => (value == null ? undefined : idString(value))
