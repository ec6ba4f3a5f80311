import { Long, UUID } from 'bson'
import { describe, expect, it } from 'vitest'
import { createOplog } from '../../src/embedded/changes/oplog.js'
import { addIndex } from '../../src/embedded/storage/collection.js'
import { createStorage } from '../../src/embedded/storage/storage.js'
import { startTtlMonitor } from '../../src/embedded/storage/ttl.js'
import { createDocumentLocks } from '../../src/embedded/transactions/locks.js'
import { createTransactions } from '../../src/embedded/transactions/sessions.js'

const ns = { db: 'app', coll: 'sessions' }

function setup() {
  const oplog = createOplog({ maxEntries: 1000 })
  const locks = createDocumentLocks()
  const storage = createStorage(oplog, locks)
  const coll = storage.ensureCollection(ns)
  addIndex(coll, { v: 2, key: { at: 1 }, name: 'at_1', expireAfterSeconds: 60 })
  return { oplog, storage, coll, locks, ttl: startTtlMonitor(storage, 0), transactions: createTransactions(storage, oplog, locks) }
}

const ids = (coll: { records: Map<string, { doc: { _id?: unknown } }> }) => [...coll.records.values()].map((r) => r.doc._id)

describe('TTL pass', () => {
  it('deletes documents whose date (the earliest of an array) is older than expireAfterSeconds, as deletes in the oplog', () => {
    const { oplog, storage, coll, ttl } = setup()
    const now = Date.now()
    const at = (secondsAgo: number) => new Date(now - secondsAgo * 1000)
    for (const doc of [
      { _id: 'old', at: at(61) },
      { _id: 'fresh', at: at(59) },
      { _id: 'array', at: [at(1), at(120)] },
      { _id: 'text', at: 'not a date' },
      { _id: 'none' },
    ]) {
      storage.insert(coll, { doc, wrapped: false })
    }
    expect(ttl.pass(new Date(now))).toBe(2)
    expect(ids(coll)).toEqual(['fresh', 'text', 'none'])
    const deletes = oplog.readAfter(0, 100).filter((e) => e.op === 'delete')
    // In index order, oldest date first, as mongod's TTL monitor walks the index.
    expect(deletes.map((e) => ('documentKey' in e ? e.documentKey._id : undefined))).toEqual(['array', 'old'])
    storage.insert(coll, { doc: { _id: 'later', at: at(200) }, wrapped: false })
    expect(ttl.pass(new Date(now + 2000))).toBe(2)
    expect(ids(coll)).toEqual(['text', 'none'])
  })

  it('leaves a document a transaction holds for a later pass', () => {
    const { storage, coll, ttl, transactions } = setup()
    const now = Date.now()
    storage.insert(coll, { doc: { _id: 1, at: new Date(now - 120_000) }, wrapped: false })
    const lsid = { id: new UUID() }
    const txn = transactions.enter({ lsid, txnNumber: new Long(1), autocommit: false, startTransaction: true }, 'update')
    const view = txn.storage.getCollection(ns)!
    txn.storage.replace(view, 'n1', { doc: { _id: 1, at: new Date(now - 120_000), touched: true }, wrapped: false }, 'update')
    expect(ttl.pass(new Date(now))).toBe(0)
    transactions.abort({ lsid, txnNumber: new Long(1), autocommit: false })
    expect(ttl.pass(new Date(now))).toBe(1)
    expect(coll.records.size).toBe(0)
    transactions.stop()
  })
})
