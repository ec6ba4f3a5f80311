/**
 * What a transaction reads and writes: each collection as it was when the transaction started (the oplog's
 * before-images undo later commits), with the transaction's own writes on top. Writes are recorded as
 * TransactionOps and reach the real collections and the oplog only at commit.
 *
 * A write to a document someone else changed since the snapshot, or that another open transaction holds,
 * fails with WriteConflict (112, TransientTransactionError), as MongoDB's first-writer-wins rule does.
 * A collection's snapshot is a copy, made the first time the transaction touches it.
 */
import type { Document } from 'bson'
import { canonicalKey, hasWrappers } from '../bson-values.js'
import type { Oplog } from '../changes/oplog.js'
import { ErrorCode, mongoError } from '../errors.js'
import {
  addIndex,
  createCollection,
  idKeyOf,
  nsString,
  putNew,
  putReplacement,
  removeRecord,
  type Collection,
} from '../storage/collection.js'
import type { StoredRecord } from '../storage/query.js'
import type { Storage, TransactionOp } from '../storage/storage.js'
import type { Namespace, OplogEntry } from '../types.js'
import type { DocumentLocks } from './locks.js'

export const TRANSIENT = 'TransientTransactionError'

export const writeConflict = () =>
  mongoError(
    ErrorCode.WriteConflict,
    'Caused by :: Write conflict during plan execution and yielding is disabled. :: Please retry your operation or multi-document transaction.',
    [TRANSIENT],
  )

const snapshotLost = () =>
  mongoError(ErrorCode.SnapshotTooOld, 'Read timestamp is older than the oldest available timestamp.', [TRANSIENT])

const notInTransaction = (what: string) =>
  mongoError(ErrorCode.OperationNotSupportedInTransaction, `Cannot run '${what}' in a multi-document transaction.`)

export interface SnapshotStorage {
  readonly storage: Storage
  /** The transaction's writes, in statement order. */
  readonly ops: readonly TransactionOp[]
}

const sameNs = (a: Namespace, b: Namespace) => a.db === b.db && a.coll === b.coll

function touchesCatalog(entry: OplogEntry, ns: Namespace): boolean {
  if (entry.op === 'dropDatabase') return entry.ns.db === ns.db
  if (entry.op === 'drop') return sameNs(entry.ns, ns)
  if (entry.op === 'rename') return sameNs(entry.ns, ns) || sameNs(entry.to, ns)
  return false
}

const stored = (doc: Document): StoredRecord => ({ doc, wrapped: hasWrappers(doc) })

export function createSnapshotStorage(real: Storage, oplog: Oplog, locks: DocumentLocks, owner: number, snapshotSeq: number): SnapshotStorage {
  const ops: TransactionOp[] = []
  const workspaces = new Map<string, Collection | undefined>()
  const changed = new Set<string>()
  let scannedThrough = snapshotSeq

  const laterEntries = (afterSeq = snapshotSeq): OplogEntry[] => {
    const dropped = oplog.lastDropped
    if (dropped && dropped.seq > snapshotSeq) throw snapshotLost()
    return oplog.readAfter(afterSeq, Number.MAX_SAFE_INTEGER)
  }

  const workspace = (ns: Namespace): Collection | undefined => {
    const name = nsString(ns)
    if (workspaces.has(name)) return workspaces.get(name)
    const current = real.getCollection(ns)
    const later = laterEntries()
    if (later.some((entry) => touchesCatalog(entry, ns))) throw writeConflict()
    let copy: Collection | undefined
    if (current) {
      copy = createCollection(ns, current.options, current.uuid)
      for (const [key, rec] of current.records) copy.records.set(key, rec)
      for (let i = later.length - 1; i >= 0; i--) {
        const entry = later[i]
        if (!('documentKey' in entry) || !sameNs(entry.ns, ns)) continue
        const key = canonicalKey(entry.documentKey._id)
        if (entry.op === 'insert') copy.records.delete(key)
        else copy.records.set(key, stored(entry.before))
      }
      for (const spec of current.indexes) if (spec.name !== '_id_') addIndex(copy, spec)
    }
    workspaces.set(name, copy)
    return copy
  }

  /** Locks the document for this transaction, or fails when someone else changed or holds it. */
  const claim = (ns: Namespace, key: string) => {
    const holder = locks.holder(ns, key)
    if (holder !== undefined && holder !== owner) throw writeConflict()
    if (holder === owner) return
    for (const entry of laterEntries(scannedThrough)) {
      scannedThrough = entry.seq
      if ('documentKey' in entry) changed.add(`${nsString(entry.ns)}\u0000${canonicalKey(entry.documentKey._id)}`)
    }
    if (changed.has(`${nsString(ns)}\u0000${key}`)) throw writeConflict()
    locks.acquire(ns, key, owner)
  }

  const storage: Storage = {
    getCollection: workspace,
    ensureCollection(ns) {
      const existing = workspace(ns)
      if (existing) return existing
      const created = createCollection(ns)
      workspaces.set(nsString(ns), created)
      return created
    },
    createCollection: () => {
      throw notInTransaction('create')
    },
    collections: (db) => real.collections(db),
    databases: () => real.databases(),
    insert(coll, rec) {
      const key = idKeyOf(rec.doc)
      claim(coll.ns, key)
      putNew(coll, rec, key)
      ops.push({ op: 'insert', ns: coll.ns, rec })
    },
    replace(coll, key, rec, op) {
      claim(coll.ns, key)
      putReplacement(coll, key, rec)
      ops.push({ op, ns: coll.ns, key, rec })
    },
    remove(coll, key) {
      claim(coll.ns, key)
      const old = removeRecord(coll, key)
      if (old) ops.push({ op: 'delete', ns: coll.ns, key })
      return old
    },
    drop: () => {
      throw notInTransaction('drop')
    },
    rename: () => {
      throw notInTransaction('renameCollection')
    },
    dropDatabase: () => {
      throw notInTransaction('dropDatabase')
    },
    checkWritable(coll, keys) {
      for (const key of keys) claim(coll.ns, key)
    },
    logCatalogChange: () => {
      throw notInTransaction('createIndexes')
    },
    commitTransaction: () => {
      throw notInTransaction('commitTransaction')
    },
    collectionInfo: (ns) => real.collectionInfo(ns),
    findByKey: (ns, key) => real.findByKey(ns, key),
  }
  return { storage, ops }
}
