/** One update or delete statement against storage: shared by the update/delete commands and findAndModify. */
import type { Document } from 'bson'
import { hasWrappers, isPlainObject } from '../bson-values.js'
import { ErrorCode, mongoError } from '../errors.js'
import type { Namespace } from '../types.js'
import { idKeyOf } from '../storage/collection.js'
import { selectRecords } from '../storage/find.js'
import type { StoredRecord } from '../storage/query.js'
import type { Storage } from '../storage/storage.js'
import { applyUpdate, parseUpdate, upsertSeed } from '../storage/update.js'
import { validateWrite } from '../storage/validation.js'
import { validateId, withIdFirst } from './write.js'

export interface UpdateStatement {
  readonly q: Document
  readonly u: unknown
  readonly upsert: boolean
  readonly multi: boolean
  readonly arrayFilters?: Document[]
  readonly sort?: Document
  /** `bypassDocumentValidation` of the command. */
  readonly bypassValidation?: boolean
}

export interface UpdateOutcome {
  readonly n: number
  readonly nModified: number
  readonly upsertedId?: unknown
  /** First matched document before and after (findAndModify). */
  readonly before?: Document
  readonly after?: Document
}

export function executeUpdate(storage: Storage, ns: Namespace, stmt: UpdateStatement): UpdateOutcome {
  if (!isPlainObject(stmt.q)) throw mongoError(ErrorCode.TypeMismatch, "BSON field 'q' is the wrong type, expected type 'object'")
  const spec = parseUpdate(stmt.u)
  if (stmt.multi && spec.kind === 'replacement') {
    throw mongoError(ErrorCode.FailedToParse, 'multi update is not supported for replacement-style update')
  }
  if (stmt.arrayFilters && spec.kind !== 'operators') {
    throw mongoError(ErrorCode.FailedToParse, 'arrayFilters may not be specified for pipeline-style updates')
  }
  const existing = storage.getCollection(ns)
  const records = selectRecords(existing, stmt.q, { limit: stmt.multi ? 0 : 1, sort: stmt.sort })
  if (records.length === 0) {
    if (!stmt.upsert) return { n: 0, nModified: 0 }
    const seed = upsertSeed(stmt.q, spec.kind === 'replacement')
    const start: StoredRecord = { doc: seed, wrapped: hasWrappers(seed) }
    const built = applyUpdate(start, spec, { inserting: true, arrayFilters: stmt.arrayFilters, query: stmt.q })!
    const doc = withIdFirst(built.doc)
    validateId(doc._id)
    const rec = { doc, wrapped: built.wrapped }
    const target = storage.ensureCollection(ns)
    validateWrite(target, undefined, rec, stmt.bypassValidation === true)
    storage.insert(target, rec)
    return { n: 1, nModified: 0, upsertedId: doc._id, after: doc }
  }
  const coll = existing!
  storage.checkWritable(coll, records.map((rec) => idKeyOf(rec.doc)))
  const op = spec.kind === 'replacement' ? 'replace' : 'update'
  let nModified = 0
  let before: Document | undefined
  let after: Document | undefined
  for (const rec of records) {
    const next = applyUpdate(rec, spec, { arrayFilters: stmt.arrayFilters, query: stmt.q })
    if (before === undefined) {
      before = rec.doc
      after = next?.doc ?? rec.doc
    }
    if (!next) continue
    validateWrite(coll, rec, next, stmt.bypassValidation === true)
    storage.replace(coll, idKeyOf(rec.doc), next, op)
    nModified++
  }
  return { n: records.length, nModified, before, after }
}

export function executeDelete(storage: Storage, ns: Namespace, q: Document, limit: number, sort?: Document): Document[] {
  if (!isPlainObject(q)) throw mongoError(ErrorCode.TypeMismatch, "BSON field 'q' is the wrong type, expected type 'object'")
  if (limit !== 0 && limit !== 1) throw mongoError(ErrorCode.FailedToParse, `The limit field in delete objects must be 0 or 1. Got ${limit}`)
  const coll = storage.getCollection(ns)
  const records = selectRecords(coll, q, { limit, sort })
  if (coll) storage.checkWritable(coll, records.map((rec) => idKeyOf(rec.doc)))
  const removed: Document[] = []
  for (const rec of records) {
    const old = storage.remove(coll!, idKeyOf(rec.doc))
    if (old) removed.push(old.doc)
  }
  return removed
}
