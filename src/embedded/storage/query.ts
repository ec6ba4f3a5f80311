/**
 * Query matching, sorting and projection over stored documents, with mingo. Stored documents that hold
 * numeric wrappers (Long, Decimal128, integral Double) are compared through a loose copy with plain numbers.
 */
import { type Document } from 'bson'
import { Query } from 'mingo'
import { canonicalKey, deepCopy, isPlainObject, toLoose } from '../bson-values.js'
import { ErrorCode, mongoError } from '../errors.js'
import { compileJsonSchema } from './json-schema.js'

export interface StoredRecord {
  readonly doc: Document
  /** Whether `doc` holds numeric wrappers (see bson-values). */
  readonly wrapped: boolean
}

export const MINGO_OPTIONS = {
  scriptEnabled: false,
  useStrictMode: true,
  jsonSchemaValidator: (schema: Document) => {
    const check = compileJsonSchema(schema)
    return (doc: Document) => check(doc).length === 0
  },
} as const

export type DocumentPredicate = (doc: Document, wrapped?: boolean) => boolean

/** Turns mingo's errors into MongoDB's BadValue, leaving MongoDB errors as they are. */
export function asMongoError(error: unknown): Error {
  if (error instanceof Error && error.name === 'MongoCommandError') return error
  const message = (error instanceof Error ? error.message : String(error)).replace(/^mingo:\s*/, '')
  // mingo reports unknown operators only in its messages; MongoDB gives them distinct codes.
  const stage = /unregistered pipeline operator (\$\w+)/.exec(message)
  if (stage) return mongoError(ErrorCode.Location40324, `Unrecognized pipeline stage name: '${stage[1]}'`)
  const expression = /(?:accumulator|expression|operator) '?(\$\w+)'? is not registered/.exec(message)
  if (expression) return mongoError(ErrorCode.InvalidPipelineOperator, `Unrecognized expression '${expression[1]}'`)
  const query = /unknown query operator (\$\w+)/.exec(message)
  if (query) return mongoError(ErrorCode.BadValue, `unknown operator: ${query[1]}`)
  return mongoError(ErrorCode.BadValue, message)
}

const MATCH_ALL: DocumentPredicate = () => true

export function compileFilter(filter: Document | undefined): DocumentPredicate {
  if (!filter || Object.keys(filter).length === 0) return MATCH_ALL
  if (!isPlainObject(filter)) throw mongoError(ErrorCode.TypeMismatch, 'filter must be an object')
  let query: Query
  try {
    query = new Query(toLoose(filter) as Document, MINGO_OPTIONS)
  } catch (error) {
    throw asMongoError(error)
  }
  return (doc, wrapped = true) => {
    try {
      return query.test(wrapped ? (toLoose(doc) as Document) : doc)
    } catch (error) {
      throw asMongoError(error)
    }
  }
}

/** Whether the filter is nothing but an `_id` condition that idKeysOf resolves exactly. */
export const isIdOnly = (filter: Document | undefined) => {
  if (!filter) return false
  let count = 0
  for (const key in filter) {
    if (key !== '_id' || ++count > 1) return false
  }
  return count === 1
}

/** `_id` keys a filter pins the result to (`{_id: v}`, `{_id: {$eq: v}}`, `{_id: {$in: [...]}}`), if any. */
export function idKeysOf(filter: Document | undefined): string[] | undefined {
  if (!filter || !Object.prototype.hasOwnProperty.call(filter, '_id')) return undefined
  const id: unknown = filter._id
  if (!isPlainObject(id)) return id instanceof RegExp || Array.isArray(id) ? undefined : [canonicalKey(id)]
  const keys = Object.keys(id)
  if (keys.length === 0 || !keys[0].startsWith('$')) return [canonicalKey(id)]
  if (keys.length !== 1) return undefined
  if (keys[0] === '$eq' && !Array.isArray(id.$eq) && !(id.$eq instanceof RegExp)) return [canonicalKey(id.$eq)]
  if (keys[0] === '$in' && Array.isArray(id.$in) && id.$in.every((v) => !(v instanceof RegExp) && !Array.isArray(v)))
    return [...new Set(id.$in.map(canonicalKey))]
  return undefined
}

/** Sorts records by a MongoDB sort document (stable, MongoDB's cross-type order via mingo). */
export function sortRecords(records: StoredRecord[], sort: Document): StoredRecord[] {
  const spec = toLoose(sort) as Document
  if (Object.keys(spec).length === 0) return records
  const byView = new Map<Document, StoredRecord>()
  const views = records.map((rec) => {
    const view = rec.wrapped ? (toLoose(rec.doc) as Document) : rec.doc
    byView.set(view, rec)
    return view
  })
  try {
    const sorted = new Query({}, MINGO_OPTIONS).find<Document>(views).sort(spec).all()
    return sorted.map((view) => byView.get(view)!)
  } catch (error) {
    throw asMongoError(error)
  }
}

/**
 * Applies a find projection to documents (a no-op for an empty projection). mingo removes excluded embedded
 * fields (`{'a.b': 0}`) from the objects it is given, so it works on copies: stored documents are never written to.
 */
export function projectDocuments(docs: Document[], projection: Document | undefined): Document[] {
  if (!projection || Object.keys(projection).length === 0) return docs
  try {
    return new Query({}, MINGO_OPTIONS).find<Document>(docs.map(deepCopy), toLoose(projection) as Document).all()
  } catch (error) {
    throw asMongoError(error)
  }
}
