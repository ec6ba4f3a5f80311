import { Long, UUID, type Document } from 'bson'
import { afterEach, describe, expect, it } from 'vitest'
import { createOplog } from '../../src/embedded/changes/oplog.js'
import { addIndex } from '../../src/embedded/storage/collection.js'
import { createStorage } from '../../src/embedded/storage/storage.js'
import { createDocumentLocks } from '../../src/embedded/transactions/locks.js'
import { createTransactions, type Transactions } from '../../src/embedded/transactions/sessions.js'

const ns = { db: 'app', coll: 'orders' }
let transactions: Transactions | undefined

function setup() {
  const oplog = createOplog({ maxEntries: 1000 })
  const locks = createDocumentLocks()
  const storage = createStorage(oplog, locks)
  transactions = createTransactions(storage, oplog, locks)
  return { oplog, storage, transactions }
}

afterEach(() => transactions?.stop())

const rec = (doc: Document) => ({ doc, wrapped: false })
const docs = (coll: { records: Map<string, { doc: Document }> } | undefined) => [...(coll?.records.values() ?? [])].map((r) => r.doc)

describe('transactions over storage', () => {
  it('reads a snapshot plus its own writes, and commits every write at one cluster time', () => {
    const { oplog, storage, transactions } = setup()
    storage.insert(storage.ensureCollection(ns), rec({ _id: 1, v: 1 }))
    const lsid = { id: new UUID() }
    const txn = transactions.enter({ lsid, txnNumber: new Long(1), autocommit: false, startTransaction: true, find: 'orders' }, 'find')
    storage.insert(storage.getCollection(ns)!, rec({ _id: 2, v: 2 }))
    const view = txn.storage.getCollection(ns)!
    expect(docs(view)).toEqual([{ _id: 1, v: 1 }])
    txn.storage.insert(view, rec({ _id: 3, v: 3 }))
    txn.storage.remove(view, 'n1')
    expect(docs(txn.storage.getCollection(ns))).toEqual([{ _id: 3, v: 3 }])
    expect(docs(storage.getCollection(ns))).toEqual([{ _id: 1, v: 1 }, { _id: 2, v: 2 }])
    const before = oplog.nextSeq
    transactions.commit({ lsid, txnNumber: new Long(1), autocommit: false })
    const entries = oplog.readAfter(before - 1, 10)
    expect(entries.map((e) => e.op)).toEqual(['insert', 'delete'])
    expect(entries[0].ts.equals(entries[1].ts)).toBe(true)
    expect(entries[0].txn?.txnNumber.toNumber()).toBe(1)
    expect(docs(storage.getCollection(ns))).toEqual([{ _id: 2, v: 2 }, { _id: 3, v: 3 }])
    // Committing again is a retried commit; aborting a committed transaction is TransactionCommitted.
    expect(transactions.commit({ lsid, txnNumber: new Long(1), autocommit: false })).toEqual({})
    expect(() => transactions.abort({ lsid, txnNumber: new Long(1), autocommit: false })).toThrow(expect.objectContaining({ code: 256 }))
  })

  it('gives the second writer of a document WriteConflict, labelled TransientTransactionError', () => {
    const { storage, transactions } = setup()
    storage.insert(storage.ensureCollection(ns), rec({ _id: 1, v: 1 }))
    const start = (n: number) => ({ lsid: { id: new UUID() }, txnNumber: new Long(n), autocommit: false, startTransaction: true })
    const a = transactions.enter(start(1), 'update')
    const b = transactions.enter(start(1), 'update')
    a.storage.replace(a.storage.getCollection(ns)!, 'n1', rec({ _id: 1, v: 2 }), 'update')
    expect(() => b.storage.replace(b.storage.getCollection(ns)!, 'n1', rec({ _id: 1, v: 3 }), 'update')).toThrow(
      expect.objectContaining({ code: 112, errorLabels: ['TransientTransactionError'] }),
    )
  })

  it('commits nothing when a unique key taken meanwhile makes one write fail', () => {
    const { oplog, storage, transactions } = setup()
    const coll = storage.ensureCollection(ns)
    addIndex(coll, { v: 2, key: { email: 1 }, name: 'email_1', unique: true })
    const lsid = { id: new UUID() }
    const txn = transactions.enter({ lsid, txnNumber: new Long(1), autocommit: false, startTransaction: true }, 'insert')
    const view = txn.storage.getCollection(ns)!
    txn.storage.insert(view, rec({ _id: 'a', email: 'x@example.com' }))
    txn.storage.insert(view, rec({ _id: 'b', email: 'taken@example.com' }))
    storage.insert(coll, rec({ _id: 'c', email: 'taken@example.com' }))
    const before = oplog.nextSeq
    expect(() => transactions.commit({ lsid, txnNumber: new Long(1), autocommit: false })).toThrow(expect.objectContaining({ code: 11000 }))
    expect(docs(storage.getCollection(ns))).toEqual([{ _id: 'c', email: 'taken@example.com' }])
    expect(oplog.nextSeq).toBe(before)
    expect(() => transactions.commit({ lsid, txnNumber: new Long(1), autocommit: false })).toThrow(expect.objectContaining({ code: 251 }))
  })

  it('refuses unknown and stale transaction numbers as MongoDB does', () => {
    const { transactions } = setup()
    const lsid = { id: new UUID() }
    expect(() => transactions.enter({ lsid, txnNumber: new Long(5), autocommit: false }, 'find')).toThrow(expect.objectContaining({ code: 251 }))
    transactions.enter({ lsid, txnNumber: new Long(5), autocommit: false, startTransaction: true }, 'find')
    expect(() => transactions.enter({ lsid, txnNumber: new Long(4), autocommit: false, startTransaction: true }, 'find')).toThrow(
      expect.objectContaining({ code: 225, codeName: 'TransactionTooOld' }),
    )
    expect(() => transactions.enter({ lsid, txnNumber: new Long(5), autocommit: false }, 'drop')).toThrow(
      expect.objectContaining({ code: 263, message: "Cannot run 'drop' in a multi-document transaction." }),
    )
    expect(() => transactions.enter({ lsid, txnNumber: new Long(5), autocommit: false }, 'find')).toThrow(expect.objectContaining({ code: 251 }))
  })
})
