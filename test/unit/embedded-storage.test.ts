import { BSON, Double, Int32, Long, ObjectId, type Document } from 'bson'
import { describe, expect, it } from 'vitest'
import { canonicalKey, toStoredInPlace } from '../../src/embedded/bson-values.js'
import { createOplog } from '../../src/embedded/changes/oplog.js'
import { fastUpdate } from '../../src/embedded/storage/fast-update.js'
import { createStorage } from '../../src/embedded/storage/storage.js'
import { applyUpdate, parseUpdate, upsertSeed } from '../../src/embedded/storage/update.js'
import { createDocumentLocks } from '../../src/embedded/transactions/locks.js'
import type { OplogEntry } from '../../src/embedded/types.js'

const rec = (doc: Document) => ({ doc, wrapped: toStoredInPlace(doc) })

describe('stored form', () => {
  it('turns Int32 and fractional Doubles into numbers but keeps types that would not round-trip', () => {
    const doc: Document = { i: new Int32(1), f: new Double(1.5), d: new Double(2), l: Long.fromNumber(3), nested: [{ x: new Int32(4) }] }
    expect(toStoredInPlace(doc)).toBe(true)
    expect(doc.i).toBe(1)
    expect(doc.f).toBe(1.5)
    expect(doc.d).toBeInstanceOf(Double)
    expect(doc.l).toBeInstanceOf(Long)
    expect(doc.nested[0].x).toBe(4)
    expect(toStoredInPlace({ a: new Int32(1), b: 'x' })).toBe(false)
  })

  it('gives equal index keys to numerically equal values of different types', () => {
    expect(canonicalKey(1)).toBe(canonicalKey(Long.fromNumber(1)))
    expect(canonicalKey(new Double(1))).toBe(canonicalKey(1))
    const id = new ObjectId()
    expect(canonicalKey(id)).toBe(canonicalKey(new ObjectId(id.toHexString())))
    expect(canonicalKey({ a: 1, b: 2 })).not.toBe(canonicalKey({ b: 2, a: 1 }))
    expect(canonicalKey('1')).not.toBe(canonicalKey(1))
  })
})

describe('fast update path', () => {
  it('sets, unsets and increments along dotted paths without touching the original', () => {
    const before = { _id: 1, a: { b: 1, keep: { deep: true } }, n: 2, gone: 'x' }
    const after = fastUpdate(before, { $set: { 'a.b': 5, 'c.d': 'new' }, $inc: { n: 3 }, $unset: { gone: '' } })!
    expect(after).toEqual({ _id: 1, a: { b: 5, keep: { deep: true } }, n: 5, c: { d: 'new' } })
    expect(before).toEqual({ _id: 1, a: { b: 1, keep: { deep: true } }, n: 2, gone: 'x' })
    expect(after.a.keep).toBe(before.a.keep)
  })

  it('returns the same document when nothing changes', () => {
    const doc = { _id: 1, a: 1 }
    expect(fastUpdate(doc, { $set: { a: 1 }, $unset: { missing: '' } })).toBe(doc)
  })

  it('leaves arrays, positional paths, _id and conflicts to the general engine', () => {
    expect(fastUpdate({ _id: 1, a: [1] }, { $set: { 'a.0': 2 } })).toBeUndefined()
    expect(fastUpdate({ _id: 1 }, { $set: { 'a.$': 2 } })).toBeUndefined()
    expect(fastUpdate({ _id: 1 }, { $set: { _id: 2 } })).toBeUndefined()
    expect(fastUpdate({ _id: 1 }, { $set: { a: 1 }, $inc: { 'a.b': 1 } })).toBeUndefined()
    expect(fastUpdate({ _id: 1, s: 'x' }, { $inc: { s: 1 } })).toBeUndefined()
  })
})

describe('update engine', () => {
  it('reports a no-op as undefined and a change as a new record', () => {
    const r = rec({ _id: 1, a: 1 })
    expect(applyUpdate(r, parseUpdate({ $set: { a: 1 } }))).toBeUndefined()
    expect(applyUpdate(r, parseUpdate({ $push: { l: 1 } }))!.doc).toEqual({ _id: 1, a: 1, l: [1] })
    expect(r.doc).toEqual({ _id: 1, a: 1 })
  })

  it('keeps _id for replacements and rejects changing it', () => {
    const r = rec({ _id: 1, a: 1 })
    expect(applyUpdate(r, parseUpdate({ b: 2 }))!.doc).toEqual({ _id: 1, b: 2 })
    expect(() => applyUpdate(r, parseUpdate({ _id: 2, b: 2 }))).toThrow(expect.objectContaining({ code: 66 }))
    expect(() => applyUpdate(r, parseUpdate({ $set: { _id: 2 } }))).toThrow(expect.objectContaining({ code: 66 }))
  })

  it('rejects unknown modifiers and mixed documents as MongoDB does', () => {
    expect(() => parseUpdate({ $frob: { a: 1 } })).toThrow(expect.objectContaining({ code: 9 }))
    expect(() => parseUpdate({ a: 1, $set: { b: 1 } })).toThrow(expect.objectContaining({ code: 52 }))
  })

  it('seeds upserts from equality conditions only', () => {
    expect(upsertSeed({ a: 1, 'b.c': 'x', d: { $gt: 1 }, e: { $eq: 5 }, $and: [{ f: true }], $or: [{ g: 1 }] }, false)).toEqual({
      a: 1,
      b: { c: 'x' },
      e: 5,
      f: true,
    })
    expect(upsertSeed({ _id: 7, a: 1 }, true)).toEqual({ _id: 7 })
  })
})

describe('documents shared by the collection and the oplog', () => {
  const imageOf = (entry: OplogEntry | undefined, side: 'before' | 'after') => (entry as unknown as Record<string, Document>)[side]

  it('logs an insert with the stored document itself, and every kind of update leaves earlier images as they were', () => {
    const oplog = createOplog({ maxEntries: 100 })
    const storage = createStorage(oplog, createDocumentLocks())
    const coll = storage.ensureCollection({ db: 'd', coll: 'c' })
    const raw: Document = { _id: 1, a: { b: 1, list: [{ x: 1 }] }, n: Long.fromNumber(5), tags: ['t'] }
    const first = rec(raw)
    storage.insert(coll, first)
    const key = canonicalKey(1)
    const inserted = oplog.at(oplog.nextSeq - 1)
    expect(imageOf(inserted, 'after')).toBe(coll.records.get(key)!.doc)
    expect(imageOf(inserted, 'after')).toBe(first.doc)

    const updates: Array<[unknown, 'update' | 'replace']> = [
      [{ $set: { 'a.b': 2 } }, 'update'], // fast path, copies along the path
      [{ $push: { 'a.list': { x: 2 } }, $addToSet: { tags: 'u' } }, 'update'], // general engine on a copy
      [{ $inc: { n: 1 } }, 'update'], // a document holding numeric wrappers (Long)
      [[{ $set: { 'a.c': { $add: ['$a.b', 1] } } }], 'update'], // pipeline update
      [{ _id: 1, replaced: true, tags: ['t'] }, 'replace'],
    ]
    const images: Buffer[] = [Buffer.from(BSON.serialize(first.doc))]
    for (const [u, op] of updates) {
      const current = coll.records.get(key)!
      const next = applyUpdate(current, parseUpdate(u))!
      expect(next.doc).not.toBe(current.doc)
      storage.replace(coll, key, next, op)
      const entry = oplog.at(oplog.nextSeq - 1)
      expect(imageOf(entry, 'before')).toBe(current.doc)
      expect(imageOf(entry, 'after')).toBe(next.doc)
      images.push(Buffer.from(BSON.serialize(next.doc)))
    }
    expect(coll.records.get(key)!.doc).toEqual({ _id: 1, replaced: true, tags: ['t'] })
    // Each logged image still has the bytes it had when it was written.
    const logged = oplog.readAfter(inserted!.seq - 1, 100).filter((entry) => entry.op !== 'create')
    expect(logged.map((entry) => Buffer.from(BSON.serialize(imageOf(entry, 'after'))))).toEqual(images)
    expect(images[0]).toEqual(Buffer.from(BSON.serialize({ _id: 1, a: { b: 1, list: [{ x: 1 }] }, n: Long.fromNumber(5), tags: ['t'] })))
  })
})
