/**
 * The catalog of databases and collections, and the only place writes commit: every committed write is
 * appended to the oplog in commit order, with images that nothing mutates afterwards.
 */
import type { Document } from 'bson'
import { canonicalKey, deepCopy } from '../bson-values.js'
import { ErrorCode, mongoError } from '../errors.js'
import type { Oplog } from '../changes/oplog.js'
import type { Namespace, StorageView } from '../types.js'
import {
  createCollection,
  idKeyOf,
  nsString,
  putNew,
  putReplacement,
  removeRecord,
  type Collection,
} from './collection.js'
import type { StoredRecord } from './query.js'

export interface Storage extends StorageView {
  getCollection(ns: Namespace): Collection | undefined
  /** The collection, created implicitly (as a first insert does) when missing. */
  ensureCollection(ns: Namespace): Collection
  /** Explicit `create`: NamespaceExists (48) when it exists. */
  createCollection(ns: Namespace, options: Document): Collection
  collections(db: string): Collection[]
  databases(): string[]
  insert(coll: Collection, rec: StoredRecord): void
  /** Swaps the record under `key` for `rec`; `op` says how the change stream reports it. */
  replace(coll: Collection, key: string, rec: StoredRecord, op: 'update' | 'replace'): void
  remove(coll: Collection, key: string): StoredRecord | undefined
  /** Drops a collection; false when it did not exist. */
  drop(ns: Namespace): boolean
  rename(from: Namespace, to: Namespace, dropTarget: boolean): void
  dropDatabase(db: string): void
}

const INVALID_DB_CHARS = /[/\\. "$\0]/

export function validateNamespace(ns: Namespace): void {
  if (!ns.db || INVALID_DB_CHARS.test(ns.db) || ns.db.length > 63) {
    throw mongoError(ErrorCode.InvalidNamespace, `Invalid database name: '${ns.db}'`)
  }
  if (!ns.coll || ns.coll.includes('$') || ns.coll.includes('\0') || ns.coll.startsWith('.')) {
    throw mongoError(ErrorCode.InvalidNamespace, `Invalid collection name: ${ns.coll}`)
  }
}

export function createStorage(oplog: Oplog): Storage {
  const dbs = new Map<string, Map<string, Collection>>()

  const getCollection = (ns: Namespace) => dbs.get(ns.db)?.get(ns.coll)

  const addCollection = (ns: Namespace, options: Document): Collection => {
    validateNamespace(ns)
    let db = dbs.get(ns.db)
    if (!db) dbs.set(ns.db, (db = new Map()))
    const coll = createCollection(ns, options)
    db.set(ns.coll, coll)
    return coll
  }

  const documentKey = (doc: Document): Document => ({ _id: deepCopy(doc._id) })

  const storage: Storage = {
    getCollection,
    ensureCollection: (ns) => getCollection(ns) ?? addCollection(ns, {}),
    createCollection(ns, options) {
      if (getCollection(ns)) throw mongoError(ErrorCode.NamespaceExists, `Collection ${nsString(ns)} already exists.`)
      return addCollection(ns, options)
    },
    collections: (db) => [...(dbs.get(db)?.values() ?? [])],
    databases: () => [...dbs.keys()].filter((db) => (dbs.get(db)?.size ?? 0) > 0),

    insert(coll, rec) {
      putNew(coll, rec)
      // Stored documents are never mutated (every write swaps in a new one), so the oplog can share them.
      oplog.append({ op: 'insert', ns: coll.ns, documentKey: documentKey(rec.doc), after: rec.doc }, coll.preAndPostImages)
    },
    replace(coll, key, rec, op) {
      const before = coll.records.get(key)
      putReplacement(coll, key, rec)
      oplog.append(
        { op, ns: coll.ns, documentKey: documentKey(rec.doc), before: before!.doc, after: rec.doc },
        coll.preAndPostImages,
      )
    },
    remove(coll, key) {
      const old = removeRecord(coll, key)
      if (old) {
        oplog.append({ op: 'delete', ns: coll.ns, documentKey: documentKey(old.doc), before: old.doc }, coll.preAndPostImages)
      }
      return old
    },
    drop(ns) {
      const coll = getCollection(ns)
      if (!coll) return false
      dbs.get(ns.db)!.delete(ns.coll)
      oplog.append({ op: 'drop', ns }, coll.preAndPostImages)
      return true
    },
    rename(from, to, dropTarget) {
      validateNamespace(to)
      const coll = getCollection(from)
      if (!coll) throw mongoError(ErrorCode.NamespaceNotFound, 'Source collection does not exist')
      if (getCollection(to)) {
        if (!dropTarget) throw mongoError(ErrorCode.NamespaceExists, 'target namespace exists')
        storage.drop(to)
      }
      dbs.get(from.db)!.delete(from.coll)
      let target = dbs.get(to.db)
      if (!target) dbs.set(to.db, (target = new Map()))
      coll.ns = { db: to.db, coll: to.coll }
      target.set(to.coll, coll)
      oplog.append({ op: 'rename', ns: from, to }, coll.preAndPostImages)
    },
    dropDatabase(db) {
      const colls = dbs.get(db)
      if (!colls) return
      for (const coll of [...colls.values()]) storage.drop(coll.ns)
      dbs.delete(db)
      oplog.append({ op: 'dropDatabase', ns: { db } }, false)
    },

    collectionInfo(ns) {
      const coll = getCollection(ns)
      return coll ? { uuid: coll.uuid, changeStreamPreAndPostImages: coll.preAndPostImages } : undefined
    },
    findByKey(ns, key) {
      const coll = getCollection(ns)
      if (!coll || !('_id' in key)) return undefined
      const rec = coll.records.get(canonicalKey(key._id))
      return rec ? deepCopy(rec.doc) : undefined
    },
  }
  return storage
}

export { idKeyOf }
