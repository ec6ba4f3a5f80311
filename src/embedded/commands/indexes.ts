/** createIndexes, listIndexes, dropIndexes. Unique indexes are enforced by storage. */
import type { Document } from 'bson'
import { canonicalKey, isPlainObject, toLoose } from '../bson-values.js'
import { ErrorCode, mongoError } from '../errors.js'
import { addIndex, removeIndex, replaceIndexSpec, type Collection } from '../storage/collection.js'
import { notImplemented } from './collection-options.js'
import { defaultIndexName, type IndexSpec } from '../storage/indexes.js'
import { collectionNs, documentArg, numberArg } from './args.js'
import type { Handler, HandlerTable } from './context.js'
import { firstBatchReply } from './cursor-commands.js'

const SPECIAL_TYPES = new Set(['text', '2dsphere', '2d', 'hashed', 'geoHaystack'])
/** Index options MongoDB 7.0 knows; the embedded server implements the first group and refuses the second. */
const INDEX_OPTIONS = new Set(['unique', 'sparse', 'partialFilterExpression', 'expireAfterSeconds', 'hidden', 'background'])
const UNIMPLEMENTED_INDEX_OPTIONS = new Set([
  'collation', 'wildcardProjection', 'weights', 'default_language', 'language_override', 'textIndexVersion',
  '2dsphereIndexVersion', 'bits', 'min', 'max', 'bucketSize', 'storageEngine', 'clustered', 'prepareUnique', 'coarsestIndexedLevel', 'finestIndexedLevel',
])
const MAX_TTL = 2147483647

function validateKey(key: unknown): Document {
  if (!isPlainObject(key) || Object.keys(key).length === 0) {
    throw mongoError(ErrorCode.CannotCreateIndex, 'Index keys cannot be an empty field.')
  }
  for (const [field, value] of Object.entries(key)) {
    const n = toLoose(value)
    const ok = (typeof n === 'number' && n !== 0 && Number.isFinite(n)) || (typeof n === 'string' && SPECIAL_TYPES.has(n))
    if (!ok || !field) {
      throw mongoError(ErrorCode.CannotCreateIndex, `Values in the index key pattern can only be numbers or strings. Bad value for '${field}'`)
    }
    if (typeof n === 'string') throw notImplemented('createIndexes', `'${n}' index type`)
  }
  return key
}

function checkOptions(spec: IndexSpec): void {
  for (const [option, value] of Object.entries(spec)) {
    if (option === 'v' || option === 'key' || option === 'name' || INDEX_OPTIONS.has(option)) continue
    const loose = toLoose(value)
    if (option === 'collation' && isPlainObject(loose) && loose.locale === 'simple') continue
    if (UNIMPLEMENTED_INDEX_OPTIONS.has(option)) throw notImplemented('createIndexes', option)
    throw mongoError(ErrorCode.InvalidIndexSpecificationOption, `The field '${option}' is not valid for an index specification. Specification: ${JSON.stringify(loose ?? null)}`)
  }
  if (spec.expireAfterSeconds !== undefined) (spec as { expireAfterSeconds?: number }).expireAfterSeconds = checkTtl(spec, spec.expireAfterSeconds)
}

function checkTtl(spec: IndexSpec, value: unknown): number {
  const seconds = toLoose(value)
  if (typeof seconds !== 'number' || !Number.isInteger(seconds) || seconds < 0 || seconds > MAX_TTL) {
    throw mongoError(ErrorCode.CannotCreateIndex, `TTL index 'expireAfterSeconds' option must be within an acceptable range, try a lower number. Value: ${String(seconds)}`)
  }
  const fields = Object.keys(spec.key)
  if (fields.length !== 1) {
    throw mongoError(ErrorCode.CannotCreateIndex, `TTL indexes are single-field indexes, compound indexes do not support TTL. Index spec: ${JSON.stringify(toLoose(spec.key))}`)
  }
  if (fields[0] === '_id') throw mongoError(ErrorCode.CannotCreateIndex, 'The field \'expireAfterSeconds\' is not valid for an _id index specification.')
  return seconds
}

/**
 * collMod's `index` option: changes `expireAfterSeconds` or `hidden` of an existing index. Returns the reply
 * fields and the index's name and previous option values (for the `modify` change event).
 */
export function modifyIndex(coll: Collection, change: unknown): { reply: Document; name: string; before: Document } {
  if (!isPlainObject(change)) throw mongoError(ErrorCode.TypeMismatch, "BSON field 'collMod.index' is the wrong type, expected type 'object'")
  const at = coll.indexes.findIndex((spec) =>
    typeof change.name === 'string' ? spec.name === change.name : isPlainObject(change.keyPattern) && sameKey(spec.key, change.keyPattern),
  )
  if (at < 0) throw mongoError(ErrorCode.IndexNotFound, `cannot find index ${JSON.stringify(toLoose(change))} for ns ${coll.ns.db}.${coll.ns.coll}`)
  const spec = coll.indexes[at]
  const reply: Document = {}
  const before: Document = {}
  const next: Record<string, unknown> = { ...spec }
  for (const [option, value] of Object.entries(change)) {
    if (option === 'name' || option === 'keyPattern') continue
    if (option === 'expireAfterSeconds') next.expireAfterSeconds = checkTtl(spec, value)
    else if (option === 'hidden') next.hidden = Boolean(toLoose(value))
    else throw notImplemented('collMod', `index.${option}`)
    reply[`${option}_old`] = spec[option]
    reply[`${option}_new`] = next[option]
    before[option] = spec[option]
  }
  replaceIndexSpec(coll, at, next as IndexSpec)
  return { reply, name: spec.name, before }
}

const sameKey = (a: Document, b: Document) => canonicalKey(toLoose(a)) === canonicalKey(toLoose(b))

const OPTION_FIELDS = ['unique', 'sparse', 'partialFilterExpression', 'expireAfterSeconds', 'collation', 'hidden'] as const

const sameOptions = (a: IndexSpec, b: IndexSpec) =>
  OPTION_FIELDS.every((field) => canonicalKey(toLoose(a[field] ?? (field === 'unique' || field === 'sparse' ? false : null))) ===
    canonicalKey(toLoose(b[field] ?? (field === 'unique' || field === 'sparse' ? false : null))))

function toSpec(raw: unknown): IndexSpec {
  if (!isPlainObject(raw)) throw mongoError(ErrorCode.TypeMismatch, 'index specifications must be objects')
  const key = validateKey(raw.key)
  const name = raw.name === undefined ? defaultIndexName(toLoose(key) as Document) : raw.name
  if (typeof name !== 'string' || !name) throw mongoError(ErrorCode.CannotCreateIndex, 'The index name must be a non-empty string')
  const { key: _key, name: _name, v: _v, ns: _ns, ...options } = raw
  const spec: IndexSpec = { v: 2, key, name, ...options }
  if (spec.unique !== undefined) (spec as { unique?: boolean }).unique = Boolean(toLoose(spec.unique))
  if (spec.sparse !== undefined) (spec as { sparse?: boolean }).sparse = Boolean(toLoose(spec.sparse))
  if (name === '_id_' && !sameKey(key, { _id: 1 })) {
    throw mongoError(ErrorCode.BadValue, "The index name '_id_' is reserved for the _id index")
  }
  checkOptions(spec)
  return spec
}

/** Whether `spec` already exists (true), is new (false), or conflicts (throws), as MongoDB decides. */
function exists(coll: Collection, spec: IndexSpec): boolean {
  for (const existing of coll.indexes) {
    const keyMatch = sameKey(existing.key, spec.key)
    if (existing.name === spec.name) {
      if (keyMatch && sameOptions(existing, spec)) return true
      throw mongoError(
        ErrorCode.IndexKeySpecsConflict,
        `An existing index has the same name as the requested index. When index names are not specified, they are auto generated and can cause conflicts. Please refer to our documentation. Requested index: ${JSON.stringify(spec)}, existing index: ${JSON.stringify(existing)}`,
      )
    }
    if (keyMatch && sameOptions(existing, spec)) {
      throw mongoError(ErrorCode.IndexOptionsConflict, `Index already exists with a different name: ${existing.name}`)
    }
  }
  return false
}

const createIndexes: Handler = (cmd, req, server) => {
  const ns = collectionNs(cmd, req)
  if (!Array.isArray(cmd.indexes) || cmd.indexes.length === 0) {
    throw mongoError(ErrorCode.BadValue, 'Must specify at least one index to create')
  }
  const specs = (cmd.indexes as unknown[]).map(toSpec)
  const created = !server.storage.getCollection(ns)
  const coll = server.storage.ensureCollection(ns)
  const before = coll.indexes.length
  const fresh = specs.filter((spec) => !exists(coll, spec))
  for (const spec of fresh) addIndex(coll, spec)
  if (fresh.length) server.storage.logCatalogChange(coll, { op: 'createIndexes', ns: coll.ns, indexes: fresh.map((spec) => ({ ...spec })) })
  const reply: Document = { numIndexesBefore: before, numIndexesAfter: coll.indexes.length, createdCollectionAutomatically: created }
  if (fresh.length === 0) reply.note = 'all indexes already exist'
  return reply
}

const listIndexes: Handler = (cmd, req, server) => {
  const ns = collectionNs(cmd, req)
  const coll = server.storage.getCollection(ns)
  if (!coll) throw mongoError(ErrorCode.NamespaceNotFound, `ns does not exist: ${ns.db}.${ns.coll}`)
  const cursor = documentArg(cmd, 'cursor')
  return firstBatchReply(server, `${ns.db}.$cmd.listIndexes.${ns.coll}`, coll.indexes.map((spec) => ({ ...spec })), {
    batchSize: cursor ? numberArg(cursor, 'batchSize') : undefined,
  })
}

const dropIndexes: Handler = (cmd, req, server) => {
  const ns = collectionNs(cmd, req)
  const coll = server.storage.getCollection(ns)
  if (!coll) throw mongoError(ErrorCode.NamespaceNotFound, `ns not found ${ns.db}.${ns.coll}`)
  const nIndexesWas = coll.indexes.length
  const target = cmd.index
  let names: string[]
  if (target === '*') {
    names = coll.indexes.filter((spec) => spec.name !== '_id_').map((spec) => spec.name)
  } else if (typeof target === 'string') {
    names = [target]
  } else if (Array.isArray(target) && target.every((t) => typeof t === 'string')) {
    names = target as string[]
  } else if (isPlainObject(target)) {
    const match = coll.indexes.find((spec) => sameKey(spec.key, target))
    if (!match) throw mongoError(ErrorCode.IndexNotFound, `can't find index with key: ${JSON.stringify(toLoose(target))}`)
    names = [match.name]
  } else {
    throw mongoError(ErrorCode.TypeMismatch, "BSON field 'dropIndexes.index' is missing but a required field")
  }
  for (const name of names) {
    if (name === '_id_') throw mongoError(ErrorCode.InvalidOptions, 'cannot drop _id index')
    if (!coll.indexes.some((spec) => spec.name === name)) {
      throw mongoError(ErrorCode.IndexNotFound, `index not found with name [${name}]`)
    }
  }
  for (const name of names) {
    const spec = coll.indexes.find((index) => index.name === name)!
    removeIndex(coll, name)
    server.storage.logCatalogChange(coll, { op: 'dropIndexes', ns: coll.ns, indexes: [{ ...spec }] })
  }
  return { nIndexesWas }
}

export const indexCommands: HandlerTable = { createIndexes, listIndexes, dropIndexes, deleteIndexes: dropIndexes }
