/** Write commands: insert, update, delete (ordered/unordered, with per-statement write errors). */
import { BSON, ObjectId, type Document } from 'bson'
import { isPlainObject, toStoredInPlace } from '../bson-values.js'
import { ErrorCode, mongoError } from '../errors.js'
import { MongoCommandError } from '../types.js'
import type { StoredRecord } from '../storage/query.js'
import { boolArg, collectionNs, documentArg, numberArg } from './args.js'
import { validateWrite } from '../storage/validation.js'
import { isDocumentLocked } from '../transactions/locks.js'
import { checkQueryOptions } from './query-options.js'
import { executeDelete, executeUpdate } from './write-ops.js'
import type { Handler, HandlerTable } from './context.js'

export const MAX_USER_DOCUMENT = 16 * 1024 * 1024

/**
 * The write error a failed statement reports. Errors that end a transaction (WriteConflict and the like,
 * labelled TransientTransactionError) fail the whole command instead, as MongoDB reports them.
 */
export function writeError(index: number, error: unknown): Document {
  if (error instanceof MongoCommandError && error.errorLabels.includes('TransientTransactionError')) throw error
  if (error instanceof MongoCommandError) {
    const out: Document = { index, code: error.code, errmsg: error.message }
    const extra = error as unknown as Record<string, unknown>
    if (extra.keyPattern) out.keyPattern = extra.keyPattern
    if (extra.keyValue) out.keyValue = extra.keyValue
    if (extra.errInfo) out.errInfo = extra.errInfo
    return out
  }
  return { index, code: ErrorCode.InternalError, errmsg: error instanceof Error ? error.message : String(error) }
}

/**
 * Runs one statement. A statement that found a document locked by an open transaction changed nothing: it
 * waits for the transaction to end and runs again, as MongoDB retries a write conflict outside transactions.
 */
export async function runStatement<T>(run: () => T): Promise<T> {
  for (;;) {
    try {
      return run()
    } catch (error) {
      if (!isDocumentLocked(error)) throw error
      await error.released
    }
  }
}

export function validateId(id: unknown): void {
  if (Array.isArray(id)) throw mongoError(ErrorCode.InvalidIdField, "The '_id' value cannot be of type array")
  if (id instanceof RegExp) throw mongoError(ErrorCode.InvalidIdField, "The '_id' value cannot be of type regex")
  if (isPlainObject(id)) {
    for (const key in id) {
      if (key.startsWith('$')) throw mongoError(ErrorCode.DollarPrefixedFieldName, `_id fields may not contain '$'-prefixed fields: ${key} is not valid for storage.`)
    }
  }
}

/** Puts `_id` first (generating an ObjectId when absent), as MongoDB stores documents. */
export function withIdFirst(doc: Document): Document {
  let first: string | undefined
  for (const key in doc) {
    first = key
    break
  }
  if (first === '_id') return doc
  if (!Object.prototype.hasOwnProperty.call(doc, '_id')) return { _id: new ObjectId(), ...doc }
  const { _id, ...rest } = doc
  return { _id, ...rest }
}

/** A document straight off the wire, made ready to store (owned by the caller, converted in place). */
export function prepareInsert(raw: unknown, checkSize: boolean): StoredRecord {
  if (!isPlainObject(raw)) throw mongoError(ErrorCode.TypeMismatch, 'documents to insert must be objects')
  if (checkSize) {
    const size = BSON.calculateObjectSize(raw)
    if (size > MAX_USER_DOCUMENT) {
      throw mongoError(ErrorCode.BadValue, `object to insert too large. size in bytes: ${size}, max size: ${MAX_USER_DOCUMENT}`)
    }
  }
  const wrapped = toStoredInPlace(raw)
  const doc = withIdFirst(raw)
  validateId(doc._id)
  return { doc, wrapped }
}

const insert: Handler = async (cmd, req, server) => {
  const ns = collectionNs(cmd, req)
  const documents = cmd.documents
  if (!Array.isArray(documents)) throw mongoError(ErrorCode.TypeMismatch, "BSON field 'insert.documents' is missing but a required field")
  if (documents.length > 100_000) throw mongoError(ErrorCode.InvalidOptions, 'Write batch sizes must be between 1 and 100000.')
  const ordered = boolArg(cmd, 'ordered', true)
  const bypass = boolArg(cmd, 'bypassDocumentValidation', false)
  const checkSize = req.largestDocument > MAX_USER_DOCUMENT
  const coll = server.storage.ensureCollection(ns)
  let n = 0
  const writeErrors: Document[] = []
  for (let i = 0; i < documents.length; i++) {
    try {
      const rec = prepareInsert(documents[i], checkSize)
      validateWrite(coll, undefined, rec, bypass)
      await runStatement(() => server.storage.insert(coll, rec))
      n++
    } catch (error) {
      writeErrors.push(writeError(i, error))
      if (ordered) break
    }
  }
  return writeErrors.length ? { n, writeErrors } : { n }
}

function statements(cmd: Document, field: string, command: string): Document[] {
  const list = cmd[field]
  if (!Array.isArray(list)) throw mongoError(ErrorCode.TypeMismatch, `BSON field '${command}.${field}' is missing but a required field`)
  if (list.length > 100_000) throw mongoError(ErrorCode.InvalidOptions, 'Write batch sizes must be between 1 and 100000.')
  return list as Document[]
}

const update: Handler = async (cmd, req, server) => {
  const ns = collectionNs(cmd, req)
  const updates = statements(cmd, 'updates', 'update')
  const ordered = boolArg(cmd, 'ordered', true)
  let n = 0
  let nModified = 0
  const upserted: Document[] = []
  const writeErrors: Document[] = []
  for (let i = 0; i < updates.length; i++) {
    try {
      const stmt = updates[i]
      if (!isPlainObject(stmt)) throw mongoError(ErrorCode.TypeMismatch, 'update statements must be objects')
      checkQueryOptions('update', stmt, server.storage.getCollection(ns), ns)
      const statement = {
        q: stmt.q as Document,
        u: stmt.u,
        upsert: boolArg(stmt, 'upsert', false),
        multi: boolArg(stmt, 'multi', false),
        arrayFilters: arrayFiltersArg(stmt),
        sort: documentArg(stmt, 'sort'),
        bypassValidation: boolArg(cmd, 'bypassDocumentValidation', false),
      }
      const outcome = await runStatement(() => executeUpdate(server.storage, ns, statement))
      n += outcome.n
      nModified += outcome.nModified
      if (outcome.upsertedId !== undefined) upserted.push({ index: i, _id: outcome.upsertedId })
    } catch (error) {
      writeErrors.push(writeError(i, error))
      if (ordered) break
    }
  }
  const reply: Document = { n, nModified }
  if (upserted.length) reply.upserted = upserted
  if (writeErrors.length) reply.writeErrors = writeErrors
  return reply
}

export function arrayFiltersArg(doc: Document): Document[] | undefined {
  const filters = doc.arrayFilters
  if (filters === undefined || filters === null) return undefined
  if (!Array.isArray(filters) || !filters.every(isPlainObject)) {
    throw mongoError(ErrorCode.TypeMismatch, "BSON field 'arrayFilters' is the wrong type, expected type 'array' of objects")
  }
  return filters as Document[]
}

const remove: Handler = async (cmd, req, server) => {
  const ns = collectionNs(cmd, req)
  const deletes = statements(cmd, 'deletes', 'delete')
  const ordered = boolArg(cmd, 'ordered', true)
  let n = 0
  const writeErrors: Document[] = []
  for (let i = 0; i < deletes.length; i++) {
    try {
      const stmt = deletes[i]
      if (!isPlainObject(stmt)) throw mongoError(ErrorCode.TypeMismatch, 'delete statements must be objects')
      checkQueryOptions('delete', stmt, server.storage.getCollection(ns), ns)
      const limit = numberArg(stmt, 'limit')
      if (limit === undefined) throw mongoError(ErrorCode.FailedToParse, "BSON field 'delete.deletes.limit' is missing but a required field")
      n += (await runStatement(() => executeDelete(server.storage, ns, stmt.q as Document, limit))).length
    } catch (error) {
      writeErrors.push(writeError(i, error))
      if (ordered) break
    }
  }
  return writeErrors.length ? { n, writeErrors } : { n }
}

export const writeCommands: HandlerTable = { insert, update, delete: remove }
