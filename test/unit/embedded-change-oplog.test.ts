import { Long, UUID } from 'bson'
import { describe, expect, it } from 'vitest'
import { createOplog } from '../../src/embedded/changes/oplog.js'
import type { OplogOp } from '../../src/embedded/types.js'

const insert = (n: number): OplogOp => ({
  op: 'insert',
  ns: { db: 'd', coll: 'c' },
  documentKey: { _id: n },
  after: { _id: n },
})

describe('oplog', () => {
  it('assigns strictly increasing positions and cluster times', () => {
    const oplog = createOplog({ maxEntries: 100 })
    const entries = [1, 2, 3].map((n) => oplog.append(insert(n), false))
    expect(entries.map((e) => e.seq)).toEqual([1, 2, 3])
    for (let i = 1; i < entries.length; i++) expect(entries[i].ts.greaterThan(entries[i - 1].ts)).toBe(true)
    expect(oplog.clusterTime.equals(entries[2].ts)).toBe(true)
    expect(oplog.nextSeq).toBe(4)
    expect(oplog.readAfter(1, 10).map((e) => e.seq)).toEqual([2, 3])
    expect(oplog.at(2)).toBe(entries[1])
    expect(oplog.seqAtOrAfter(entries[1].ts)).toBe(2)
  })

  it("logs a copy of the op's fields with its own position, sharing the images and leaving the op as it was", () => {
    const oplog = createOplog({ maxEntries: 100 })
    const after = { _id: 1, a: { b: 1 } }
    const op: OplogOp = { op: 'insert', ns: { db: 'd', coll: 'c' }, documentKey: { _id: 1 }, after }
    const uuid = new UUID()
    const entry = oplog.append(op, true, uuid)
    expect(entry).not.toBe(op)
    expect(entry).toMatchObject({ ...op, seq: 1, imagesRecorded: true, uuid })
    expect(entry.op === 'insert' && entry.after).toBe(after)
    expect(Object.keys(op)).toEqual(['op', 'ns', 'documentKey', 'after'])
    const txn = { lsid: { id: new UUID() }, txnNumber: Long.fromNumber(1) }
    const [a, b] = oplog.appendTransaction([{ op: insert(2), imagesRecorded: false }, { op: insert(3), imagesRecorded: false }], txn)
    expect([a.seq, b.seq]).toEqual([2, 3])
    expect(a.ts.equals(b.ts) && a.wallTime === b.wallTime).toBe(true)
    expect(a.txn).toBe(txn)
    expect(entry.txn).toBeUndefined()
  })

  it('keeps at most maxEntries and remembers the newest entry it forgot', () => {
    const oplog = createOplog({ maxEntries: 3 })
    const entries = [1, 2, 3, 4, 5].map((n) => oplog.append(insert(n), false))
    expect(oplog.first?.seq).toBe(3)
    expect(oplog.lastDropped?.seq).toBe(2)
    expect(oplog.lastDropped?.ts.equals(entries[1].ts)).toBe(true)
    expect(oplog.at(2)).toBeUndefined()
    expect(oplog.readAfter(0, 10).map((e) => e.seq)).toEqual([3, 4, 5])
  })

  it('calls append listeners once, unless cancelled', () => {
    const oplog = createOplog({ maxEntries: 10 })
    const calls: string[] = []
    oplog.onNextAppend(() => calls.push('a'))
    const cancel = oplog.onNextAppend(() => calls.push('b'))
    cancel()
    oplog.append(insert(1), false)
    oplog.append(insert(2), false)
    expect(calls).toEqual(['a'])
  })

  it('ends a wait on append, on timeout or on abort', async () => {
    const oplog = createOplog({ maxEntries: 10 })
    const woken = oplog.waitForAppend(10_000)
    oplog.append(insert(1), false)
    await woken
    const started = Date.now()
    await oplog.waitForAppend(20)
    expect(Date.now() - started).toBeGreaterThanOrEqual(15)
    const abort = new AbortController()
    const aborted = oplog.waitForAppend(10_000, abort.signal)
    abort.abort()
    await aborted
  })
})
