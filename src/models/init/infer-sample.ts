/**
 * Fields from sampled documents: a field present and non-null in every document is non-null; one type → that
 * type, Int and Float mixed → Float, other mixes → JSON; plain objects → nested objects (up to
 * MAX_OBJECT_DEPTH); arrays → lists of their unified element type (`[JSON]` when only empty arrays were seen).
 * Reads documents as the driver returns them with `promoteValues: false` (Int32, Double, Long wrappers) or
 * promoted (plain numbers: integral → Int).
 */
import type { Document } from 'bson'
import type { ScalarTypeName } from '../types.js'
import {
  JSON_SHAPE, MAX_OBJECT_DEPTH, fieldNameProblem, joinPath, scalar, toFieldSpec,
  type InferredFields, type Shape, type SkippedField,
} from './shape.js'

interface ValueStats {
  nulls: number
  readonly scalars: Set<ScalarTypeName>
  object?: ObjectStats
  array?: ValueStats
}

interface ObjectStats {
  count: number
  readonly fields: Map<string, { present: number; readonly value: ValueStats }>
}

const newValueStats = (): ValueStats => ({ nulls: 0, scalars: new Set() })
const newObjectStats = (): ObjectStats => ({ count: 0, fields: new Map() })

const INT32_MIN = -0x80000000
const INT32_MAX = 0x7fffffff
const numberType = (n: number): ScalarTypeName => (Number.isInteger(n) && n >= INT32_MIN && n <= INT32_MAX ? 'Int' : 'Float')

const isPlainObject = (value: object): value is Document => {
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

/** The scalar type of a BSON wrapper (`_bsontype`); values GraphQL has no type for are JSON. */
function wrapperType(value: { _bsontype: string; valueOf(): unknown }): ScalarTypeName {
  switch (value._bsontype) {
    case 'ObjectId':
      return 'ObjectId'
    case 'Int32':
      return 'Int'
    case 'Double':
    case 'Decimal128':
      return 'Float'
    case 'Long':
      return numberType(Number(value.toString()))
    default:
      return 'JSON'
  }
}

const hasBsonType = (value: object): value is { _bsontype: string; valueOf(): unknown } =>
  typeof (value as { _bsontype?: unknown })._bsontype === 'string'

function addValue(stats: ValueStats, value: unknown, depth: number): void {
  if (value === null || value === undefined) {
    stats.nulls++
    return
  }
  switch (typeof value) {
    case 'string':
      stats.scalars.add('String')
      return
    case 'boolean':
      stats.scalars.add('Boolean')
      return
    case 'number':
      stats.scalars.add(numberType(value))
      return
    case 'bigint':
      stats.scalars.add(numberType(Number(value)))
      return
    case 'object':
      break
    default:
      stats.scalars.add('JSON')
      return
  }
  if (value instanceof Date) stats.scalars.add('DateTime')
  else if (Array.isArray(value)) {
    stats.array ??= newValueStats()
    for (const item of value) addValue(stats.array, item, depth)
  } else if (hasBsonType(value)) stats.scalars.add(wrapperType(value))
  else if (isPlainObject(value) && depth < MAX_OBJECT_DEPTH) {
    stats.object ??= newObjectStats()
    addObject(stats.object, value, depth + 1)
  } else stats.scalars.add('JSON')
}

function addObject(stats: ObjectStats, doc: Document, depth: number): void {
  stats.count++
  for (const key of Object.keys(doc)) {
    let field = stats.fields.get(key)
    if (!field) stats.fields.set(key, (field = { present: 0, value: newValueStats() }))
    const value = doc[key]
    if (value !== null && value !== undefined) field.present++
    addValue(field.value, value, depth)
  }
}

/** One type for everything seen: the kinds (scalars, object, array) must agree, except Int with Float. */
function shapeOf(stats: ValueStats, path: string, skipped: SkippedField[]): Shape {
  const kinds = stats.scalars.size + (stats.object ? 1 : 0) + (stats.array ? 1 : 0)
  if (stats.object && kinds === 1) {
    const { fields } = fieldsOf(stats.object, path, skipped, false)
    return Object.keys(fields).length > 0 ? { kind: 'object', fields } : JSON_SHAPE
  }
  if (stats.array && kinds === 1) {
    const items = stats.array
    const seen = items.scalars.size > 0 || items.object || items.array
    if (!seen) return { kind: 'list', item: JSON_SHAPE, itemRequired: false }
    return { kind: 'list', item: shapeOf(items, path, skipped), itemRequired: items.nulls === 0 }
  }
  if (kinds === 1) return scalar([...stats.scalars][0])
  if (kinds === 2 && stats.scalars.has('Int') && stats.scalars.has('Float')) return scalar('Float')
  return JSON_SHAPE
}

function fieldsOf(stats: ObjectStats, parent: string, skipped: SkippedField[], topLevel: boolean): InferredFields {
  const fields: InferredFields['fields'] = {}
  for (const name of [...stats.fields.keys()].sort()) {
    if (topLevel && name === '_id') continue
    const path = joinPath(parent, name)
    const problem = fieldNameProblem(name, topLevel)
    if (problem) {
      skipped.push({ path, reason: problem })
      continue
    }
    const field = stats.fields.get(name)!
    fields[name] = toFieldSpec(shapeOf(field.value, path, skipped), field.present === stats.count)
  }
  return { fields, skipped }
}

/** The model's fields from sampled documents (`_id` is implicit and left out). */
export function inferFromSample(documents: readonly Document[]): InferredFields {
  const stats = newObjectStats()
  for (const doc of documents) addObject(stats, doc, 1)
  return fieldsOf(stats, '', [], true)
}
