import { ObjectId, Timestamp, type Document } from 'mongodb'
import { describe, expect, it } from 'vitest'
import { createEventCache } from '../../src/streams/stream-event.js'

const raw = (n: number): Document => ({
  _id: { _data: `82${(5000 + n).toString(16).toUpperCase().padStart(8, '0')}00000001` },
  operationType: 'insert',
  clusterTime: new Timestamp({ t: 5000 + n, i: 1 }),
  ns: { db: 'changegate', coll: 'orders' },
  documentKey: { _id: new ObjectId() },
  fullDocument: { tenantId: 'acme', n },
})

describe('event cache', () => {
  it('shares one parse (and its memo) between readers of history', () => {
    const parse = createEventCache(() => 'tenantId')
    const event = raw(1)
    const first = parse('orders', event)
    first.memo.set('result', 1)
    const again = parse('orders', { ...event })
    expect(again).toBe(first)
    expect(again.memo.get('result')).toBe(1)
  })

  it('lets a live event go: looked up, not kept', () => {
    const parse = createEventCache(() => 'tenantId')
    const event = raw(2)
    const live = parse('orders', event, false)
    expect(parse('orders', event)).not.toBe(live)
    // Read from history first, the live stream gets the same parse.
    const read = parse('orders', raw(3))
    expect(parse('orders', raw(3), false)).toBe(read)
  })

  it('keeps at most its bound, dropping the oldest', () => {
    const parse = createEventCache(() => 'tenantId', 2)
    const events = [raw(10), raw(11), raw(12)].map((e) => ({ e, parsed: parse('orders', e) }))
    expect(parse('orders', events[2].e)).toBe(events[2].parsed)
    expect(parse('orders', events[1].e)).toBe(events[1].parsed)
    expect(parse('orders', events[0].e)).not.toBe(events[0].parsed)
  })
})
