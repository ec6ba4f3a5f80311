/**
 * The catalog of databases and collections, and the only place writes commit: every committed write is
 * appended to the oplog in commit order, with images that nothing mutates afterwards.
 */
import type { Document, UUID } from 'bson'
import { canonicalKey, deepCopy } from '../bson-values.js'
import { ErrorCode, mongoError } from '../errors.js'
import type { Oplog } from '../changes/oplog.js'
import { DocumentLockedError, type DocumentLocks } from '../transactions/locks.js'
import type { CatalogOp, Namespace, OplogOp, StorageView, TransactionInfo } from '../types.js'
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
  /** Throws before anything changes when one of these documents cannot be written now (see DocumentLocks). */
  checkWritable(coll: Collection, keys: readonly string[]): void
  /** Logs a catalog change (create, index builds and drops, collMod) of an existing collection. */
  logCatalogChange(coll: Collection, op: CatalogOp): void
  /** Applies a committed transaction's writes in order and logs them at one cluster time. */
  commitTransaction(ops: readonly TransactionOp[], txn: TransactionInfo): void
}

/** One write of a transaction, replayed on the collections at commit. */
export type TransactionOp =
  | { readonly op: 'insert'; readonly ns: Namespace; readonly rec: StoredRecord }
  | { readonly op: 'update' | 'replace'; readonly ns: Namespace; readonly key: string; readonly rec: StoredRecord }
  | { readonly op: 'delete'; readonly ns: Namespace; readonly key: string }

const INVALID_DB_CHARS = /[/\\. "$\0]/

export function validateNamespace(ns: Namespace): void {
  if (!ns.db || INVALID_DB_CHARS.test(ns.db) || ns.db.length > 63) {
    throw mongoError(ErrorCode.InvalidNamespace, `Invalid database name: '${ns.db}'`)
  }
  if (!ns.coll || ns.coll.includes('$') || ns.coll.includes('\0') || ns.coll.startsWith('.')) {
    throw mongoError(ErrorCode.InvalidNamespace, `Invalid collection name: ${ns.coll}`)
  }
}

export function createStorage(oplog: Oplog, locks: DocumentLocks): Storage {
  const dbs = new Map<string, Map<string, Collection>>()

  const getCollection = (ns: Namespace) => dbs.get(ns.db)?.get(ns.coll)

  const addCollection = (ns: Namespace, options: Document): Collection => {
    validateNamespace(ns)
    let db = dbs.get(ns.db)
    if (!db) dbs.set(ns.db, (db = new Map()))
    const coll = createCollection(ns, options)
    db.set(ns.coll, coll)
    oplog.append({ op: 'create', ns, options }, false, coll.uuid)
    return coll
  }

  const documentKey = (doc: Document): Document => ({ _id: deepCopy(doc._id) })

  const guard = (ns: Namespace, key: string) => {
    const owner = locks.holder(ns, key)
    if (owner !== undefined) throw new DocumentLockedError(locks.released(owner))
  }

  /** Applies one transaction write, pushing what undoes it onto `undo`. */
  const applyOp = (op: TransactionOp, undo: Array<() => void>): OplogOp | undefined => {
    const coll = storage.ensureCollection(op.ns)
    switch (op.op) {
      case 'insert':
        putNew(coll, op.rec)
        undo.push(() => removeRecord(coll, idKeyOf(op.rec.doc)))
        return { op: 'insert', ns: coll.ns, documentKey: documentKey(op.rec.doc), after: op.rec.doc }
      case 'update':
      case 'replace': {
        const before = coll.records.get(op.key)!
        putReplacement(coll, op.key, op.rec)
        undo.push(() => putReplacement(coll, op.key, before))
        return { op: op.op, ns: coll.ns, documentKey: documentKey(op.rec.doc), before: before.doc, after: op.rec.doc }
      }
      case 'delete': {
        const old = removeRecord(coll, op.key)
        if (old) undo.push(() => putNew(coll, old))
        return old && { op: 'delete', ns: coll.ns, documentKey: documentKey(old.doc), before: old.doc }
      }
    }
  }

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
      const key = idKeyOf(rec.doc)
      guard(coll.ns, key)
      putNew(coll, rec, key)
      // Stored documents are never mutated (every write swaps in a new one), so the oplog can share them.
      oplog.append({ op: 'insert', ns: coll.ns, documentKey: documentKey(rec.doc), after: rec.doc }, coll.preAndPostImages, coll.uuid)
    },
    replace(coll, key, rec, op) {
      guard(coll.ns, key)
      const before = coll.records.get(key)
      putReplacement(coll, key, rec)
      oplog.append(
        { op, ns: coll.ns, documentKey: documentKey(rec.doc), before: before!.doc, after: rec.doc },
        coll.preAndPostImages,
        coll.uuid,
      )
    },
    remove(coll, key) {
      guard(coll.ns, key)
      const old = removeRecord(coll, key)
      if (old) {
        oplog.append({ op: 'delete', ns: coll.ns, documentKey: documentKey(old.doc), before: old.doc }, coll.preAndPostImages, coll.uuid)
      }
      return old
    },
    drop(ns) {
      const coll = getCollection(ns)
      if (!coll) return false
      dbs.get(ns.db)!.delete(ns.coll)
      oplog.append({ op: 'drop', ns }, coll.preAndPostImages, coll.uuid)
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
      oplog.append({ op: 'rename', ns: from, to }, coll.preAndPostImages, coll.uuid)
    },
    dropDatabase(db) {
      const colls = dbs.get(db)
      if (!colls) return
      for (const coll of [...colls.values()]) storage.drop(coll.ns)
      dbs.delete(db)
      oplog.append({ op: 'dropDatabase', ns: { db } }, false)
    },

    logCatalogChange(coll, op) {
      oplog.append(op, false, coll.uuid)
    },
    checkWritable(coll, keys) {
      for (const key of keys) guard(coll.ns, key)
    },
    commitTransaction(ops, txn) {
      const logged: Array<{ op: OplogOp; imagesRecorded: boolean; uuid?: UUID }> = []
      const undo: Array<() => void> = []
      try {
        for (const op of ops) {
          const applied = applyOp(op, undo)
          const coll = getCollection(op.ns)
          if (applied) logged.push({ op: applied, imagesRecorded: coll?.preAndPostImages ?? false, uuid: coll?.uuid })
        }
      } catch (error) {
        // A write outside the transaction took a unique key the transaction also wrote: nothing is committed.
        for (let i = undo.length - 1; i >= 0; i--) undo[i]()
        throw error
      }
      oplog.appendTransaction(logged, txn)
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
