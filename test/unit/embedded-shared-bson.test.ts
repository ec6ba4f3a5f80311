import { BSON, Binary, Decimal128, Int32, Long, ObjectId, Timestamp, type Document } from 'bson'
import { describe, expect, it } from 'vitest'
import { REPLY_SERIALIZE, serializeReply, shareEncoding } from '../../src/embedded/wire/shared-bson.js'

const event = (n: number): Document => ({
  _id: { _data: `8263${n.toString(16).padStart(8, '0')}` },
  operationType: 'insert',
  clusterTime: new Timestamp({ t: 1_700_000_000 + n, i: 1 }),
  wallTime: new Date(1_700_000_000_000 + n),
  fullDocument: { _id: new ObjectId(), n, tags: ['a', undefined, null], price: Decimal128.fromString('1.5'), raw: new Binary(Buffer.from([1, 2])) },
  ns: { db: 'app', coll: 'orders' },
  documentKey: { _id: n },
  skipped: undefined,
})

const getMoreReply = (docs: Document[]): Document => ({
  cursor: { nextBatch: docs, id: Long.fromNumber(42), ns: 'app.orders', postBatchResumeToken: { _data: 'ff' } },
  ok: 1,
  $clusterTime: { clusterTime: new Timestamp({ t: 1, i: 2 }), signature: { hash: new Binary(Buffer.alloc(20)), keyId: Long.fromInt(0) } },
  operationTime: new Timestamp({ t: 1, i: 2 }),
  absent: undefined,
})

describe('embedded server reply encoding with shared documents', () => {
  it('writes the same bytes as serializing the whole reply', () => {
    const shared = [event(1), event(2), event(3)]
    shared.forEach((doc) => shareEncoding(doc))
    const docs = [shared[0], event(99), shared[1], shared[2], shared[0]]
    const reply = getMoreReply(docs)
    expect(Buffer.from(serializeReply(reply))).toEqual(Buffer.from(BSON.serialize(reply, REPLY_SERIALIZE)))
  })

  it('keeps bson rules for arrays around shared documents (undefined elements become null)', () => {
    const shared = event(5)
    shareEncoding(shared)
    const reply = { cursor: { firstBatch: [undefined, shared, 7, new Int32(3), [shared]], id: Long.fromInt(0), ns: 'a.b' }, ok: 1 }
    expect(Buffer.from(serializeReply(reply))).toEqual(Buffer.from(BSON.serialize(reply, REPLY_SERIALIZE)))
    expect(BSON.deserialize(serializeReply(reply)).cursor.firstBatch[1].fullDocument.n).toBe(5)
  })

  it('writes runs of other elements around shared documents in order, whatever their names', () => {
    const shared = event(6)
    shareEncoding(shared)
    const doc: Document = JSON.parse('{"__proto__": {"x": 1}}')
    Object.assign(doc, { '2': 'two', a: shared, constructor: 'c', b: [shared, undefined], '1': 'one', c: undefined, d: new Int32(4) })
    const reply = { cursor: { nextBatch: [shared, shared], id: Long.fromInt(1), ns: 'a.b' }, doc, ok: 1 }
    expect(Buffer.from(serializeReply(reply))).toEqual(Buffer.from(BSON.serialize(reply, REPLY_SERIALIZE)))
    const back = BSON.deserialize(serializeReply(reply))
    expect(Object.keys(back.doc)).toEqual(['1', '2', '__proto__', 'a', 'constructor', 'b', 'd'])
    expect(back.doc.b).toEqual([expect.objectContaining({ operationType: 'insert' }), null])
  })

  it('serializes replies without shared documents as before', () => {
    const reply = getMoreReply([event(7)])
    expect(Buffer.from(serializeReply(reply))).toEqual(Buffer.from(BSON.serialize(reply, REPLY_SERIALIZE)))
  })

  it('serializes a shared document once and hands out the same bytes', () => {
    const doc = event(8)
    const first = shareEncoding(doc)
    expect(shareEncoding(doc)).toBe(first)
    expect(BSON.deserialize(first).fullDocument.n).toBe(8)
  })

  it('refuses keys with null bytes as bson does', () => {
    const shared = event(9)
    shareEncoding(shared)
    const reply = { 'bad\0key': { nextBatch: [shared] } }
    expect(() => BSON.serialize(reply, REPLY_SERIALIZE)).toThrow(/null bytes/)
    expect(() => serializeReply(reply)).toThrow(/null bytes/)
  })
})
