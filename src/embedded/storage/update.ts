/**
 * The update engine: operator updates, replacement documents and pipeline updates applied to a stored
 * record (copy on write), `_id` immutability, BSON numeric types kept, and upsert seeding from the query.
 */
import { BSON, Decimal128, Double, Long, type Document } from 'bson'
import { Aggregator, update as mingoUpdate } from 'mingo'
import { canonicalKey, deepCopy, hasWrappers, isPlainObject, toLoose, toStoredCopy } from '../bson-values.js'
import { ErrorCode, mongoError } from '../errors.js'
import { fastUpdate } from './fast-update.js'
import { MINGO_OPTIONS, asMongoError, type StoredRecord } from './query.js'
import { renderValue } from './render.js'

export type UpdateSpec =
  | { readonly kind: 'replacement'; readonly doc: Document; readonly wrapped: boolean }
  | { readonly kind: 'operators'; readonly ops: Document; readonly wrapped: boolean }
  | { readonly kind: 'pipeline'; readonly stages: Document[] }

export const MAX_DOCUMENT_SIZE = 16 * 1024 * 1024

const OPERATORS = new Set([
  '$set', '$unset', '$inc', '$mul', '$min', '$max', '$rename', '$setOnInsert', '$currentDate',
  '$push', '$pull', '$pullAll', '$addToSet', '$pop', '$bit',
])
const NUMERIC_OPERATORS = new Set(['$inc', '$mul', '$min', '$max', '$bit'])
const PIPELINE_STAGES = new Set(['$addFields', '$set', '$project', '$unset', '$replaceRoot', '$replaceWith'])

export function parseUpdate(u: unknown): UpdateSpec {
  if (Array.isArray(u)) {
    for (const stage of u) {
      const name = isPlainObject(stage) ? Object.keys(stage)[0] : undefined
      if (!name || !PIPELINE_STAGES.has(name)) {
        throw mongoError(ErrorCode.InvalidOptions, `${name ?? 'stage'} is not allowed to be used within an update`)
      }
    }
    return { kind: 'pipeline', stages: toLoose(u) as Document[] }
  }
  if (!isPlainObject(u)) throw mongoError(ErrorCode.FailedToParse, 'Update argument must be either an object or an array')
  const keys = Object.keys(u)
  if (keys.length === 0 || !keys[0].startsWith('$')) {
    for (const key of keys) {
      if (key.startsWith('$')) {
        throw mongoError(
          ErrorCode.DollarPrefixedFieldName,
          `The dollar ($) prefixed field '${key}' in '${key}' is not allowed in the context of an update's replacement document. Consider using an aggregation pipeline with $replaceWith.`,
        )
      }
    }
    const doc = toStoredCopy(u) as Document
    return { kind: 'replacement', doc, wrapped: hasWrappers(doc) }
  }
  const ops: Document = {}
  let wrapped = false
  for (const key of keys) {
    if (!OPERATORS.has(key)) {
      throw mongoError(ErrorCode.FailedToParse, `Unknown modifier: ${key}. Expected a valid update modifier or pipeline-style update specified as an array`)
    }
    const arg = u[key]
    if (!isPlainObject(arg)) {
      throw mongoError(ErrorCode.FailedToParse, `Modifiers operate on fields but we found type ${typeof arg} instead. For example: {$mod: {<field>: ...}} not {${key}: ${renderValue(arg)}}`)
    }
    ops[key] = NUMERIC_OPERATORS.has(key) ? toLoose(arg) : toStoredCopy(arg)
    if (!wrapped && !NUMERIC_OPERATORS.has(key) && hasWrappers(ops[key])) wrapped = true
  }
  return { kind: 'operators', ops, wrapped }
}

/** Restores the BSON numeric types of `old` where an update left a value numerically equal or changed it. */
function retype(next: unknown, old: unknown): unknown {
  if (typeof next === 'number') {
    if (old instanceof Double) return new Double(next)
    if (old instanceof Long) return Number.isInteger(next) ? Long.fromNumber(next) : next
    if (old instanceof Decimal128) return Decimal128.fromString(String(next))
    return next
  }
  if (Array.isArray(next) && Array.isArray(old)) return next.map((v, i) => retype(v, old[i]))
  if (isPlainObject(next) && isPlainObject(old)) {
    for (const key in next) next[key] = retype(next[key], old[key])
  }
  return next
}

function checkNumericTargets(doc: Document, ops: Document) {
  for (const op of ['$inc', '$mul'] as const) {
    const fields = ops[op] as Document | undefined
    if (!fields) continue
    for (const path in fields) {
      if (typeof fields[path] !== 'number') {
        throw mongoError(ErrorCode.TypeMismatch, `Cannot ${op === '$inc' ? 'increment' : 'multiply'} with non-numeric argument: {${path}: ${renderValue(fields[path])}}`)
      }
      let v: unknown = doc
      for (const part of path.split('.')) v = isPlainObject(v) ? v[part] : undefined
      if (v !== undefined && typeof v !== 'number' && !(v instanceof Double || v instanceof Long || v instanceof Decimal128)) {
        throw mongoError(
          ErrorCode.TypeMismatch,
          `Cannot apply ${op} to a value of non-numeric type. {_id: ${renderValue(doc._id)}} has the field '${path.split('.').pop()}' of non-numeric type ${v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v}`,
        )
      }
    }
  }
}

export interface ApplyOptions {
  readonly arrayFilters?: Document[]
  /** The update's query (for the positional `$` operator). */
  readonly query?: Document
  /** The document is being inserted by an upsert: `$setOnInsert` applies. */
  readonly inserting?: boolean
}

const idOf = (doc: Document) => canonicalKey(doc._id)

/**
 * Applies an update to a record. Returns the new record, or undefined when the document is unchanged
 * (MongoDB's no-op update).
 */
export function applyUpdate(rec: StoredRecord, spec: UpdateSpec, options: ApplyOptions = {}): StoredRecord | undefined {
  const old = rec.doc
  // An upsert whose query did not pin `_id` may set it.
  const idFixed = !options.inserting || Object.prototype.hasOwnProperty.call(old, '_id')
  let next: Document
  let wrapped: boolean
  if (spec.kind === 'replacement') {
    next = { _id: old._id, ...spec.doc }
    if (Object.prototype.hasOwnProperty.call(spec.doc, '_id')) {
      next = { ...spec.doc }
      if (idOf(next) !== idOf(old)) {
        throw mongoError(ErrorCode.ImmutableField, `After applying the update, the (immutable) field '_id' was found to have been altered to _id: ${renderValue(next._id)}`)
      }
      next = withId(next)
    }
    wrapped = spec.wrapped || hasWrappers(old._id)
    if (!options.inserting && sameBson(old, next)) return undefined
  } else if (spec.kind === 'operators') {
    const ops: Document = { ...spec.ops }
    if (ops.$setOnInsert) {
      if (options.inserting) ops.$set = { ...(ops.$set as Document | undefined), ...(ops.$setOnInsert as Document) }
      delete ops.$setOnInsert
    }
    if (!rec.wrapped && !options.arrayFilters && !options.inserting) {
      const fast = fastUpdate(old, ops)
      if (fast === old) return undefined
      if (fast) return finish(fast, spec.wrapped)
    }
    const base = rec.wrapped ? (toLoose(old) as Document) : deepCopy(old)
    checkNumericTargets(base, ops)
    let modified: string[]
    try {
      modified = Object.keys(ops).length
        ? mingoUpdate(base, ops, options.arrayFilters ? (toLoose(options.arrayFilters) as Document[]) : undefined, options.query && !options.inserting ? (toLoose(options.query) as Document) : undefined, {
            queryOptions: MINGO_OPTIONS,
          })
        : []
    } catch (error) {
      throw updateError(error)
    }
    if (modified.length === 0 && !options.inserting) return undefined
    next = rec.wrapped ? (retype(base, old) as Document) : base
    wrapped = rec.wrapped ? hasWrappers(next) : spec.wrapped
    if (idFixed && (!Object.prototype.hasOwnProperty.call(next, '_id') || idOf(next) !== idOf(old))) {
      throw mongoError(ErrorCode.ImmutableField, "Performing an update on the path '_id' would modify the immutable field '_id'")
    }
  } else {
    let out: Document[]
    try {
      out = new Aggregator(spec.stages, MINGO_OPTIONS).run([toLoose(old) as Document]) as Document[]
    } catch (error) {
      throw asMongoError(error)
    }
    next = toStoredCopy(rec.wrapped ? retype(out[0], old) : out[0]) as Document
    if (!Object.prototype.hasOwnProperty.call(next, '_id') && idFixed) next = { _id: old._id, ...next }
    if (idFixed && idOf(next) !== idOf(old)) {
      throw mongoError(ErrorCode.ImmutableField, "Performing an update on the path '_id' would modify the immutable field '_id'")
    }
    if (Object.prototype.hasOwnProperty.call(next, '_id')) next = withId(next)
    wrapped = hasWrappers(next)
    if (!options.inserting && sameBson(old, next)) return undefined
  }
  return finish(next, wrapped)
}

function finish(doc: Document, wrapped: boolean): StoredRecord {
  const size = BSON.calculateObjectSize(doc)
  if (size > MAX_DOCUMENT_SIZE) {
    throw mongoError(ErrorCode.Location17419, `Resulting document after update is larger than ${MAX_DOCUMENT_SIZE}`)
  }
  return { doc, wrapped }
}

function updateError(error: unknown): Error {
  const message = error instanceof Error ? error.message : String(error)
  if (/would create a conflict/i.test(message)) {
    return mongoError(ErrorCode.ConflictingUpdateOperators, message.replace(/^updating/, 'Updating'))
  }
  if (/immutable field/i.test(message)) return mongoError(ErrorCode.ImmutableField, message)
  return asMongoError(error)
}

function withId(doc: Document): Document {
  const first = Object.keys(doc)[0]
  if (first === '_id') return doc
  const { _id, ...rest } = doc
  return { _id, ...rest }
}

function sameBson(a: Document, b: Document): boolean {
  return Buffer.from(BSON.serialize(a)).equals(BSON.serialize(b))
}

/** The document an upsert starts from: the query's equality conditions (`{a: 1}`, `{a: {$eq: 1}}`, `$and`). */
export function upsertSeed(query: Document | undefined, replacement: boolean): Document {
  const seed: Document = {}
  if (!query) return seed
  const visit = (filter: Document) => {
    for (const [key, value] of Object.entries(filter)) {
      if (key === '$and' && Array.isArray(value)) {
        for (const sub of value) if (isPlainObject(sub)) visit(sub)
        continue
      }
      if (key.startsWith('$')) continue
      if (replacement && key !== '_id') continue
      if (isPlainObject(value)) {
        const keys = Object.keys(value)
        if (keys.some((k) => k.startsWith('$'))) {
          if (keys.length === 1 && keys[0] === '$eq') setPath(seed, key, value.$eq)
          continue
        }
      }
      if (value instanceof RegExp) continue
      setPath(seed, key, value)
    }
  }
  visit(query)
  return toStoredCopy(seed) as Document
}

function setPath(doc: Document, path: string, value: unknown) {
  const parts = path.split('.')
  if (parts.includes('__proto__')) return
  let at: Document = doc
  for (const part of parts.slice(0, -1)) {
    if (!isPlainObject(at[part])) at[part] = {}
    at = at[part] as Document
  }
  at[parts[parts.length - 1]] = deepCopy(value)
}
