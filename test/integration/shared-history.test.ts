import { ObjectId, type ChangeStream, type Collection, type Document } from 'mongodb'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { positionFromEvent, type Position } from '../../src/mongo/position.js'
import { openCatchUp } from '../../src/streams/catch-up.js'
import { createFilterEvaluator } from '../../src/streams/dispatcher.js'
import { createSharedHistory, type SharedHistory } from '../../src/streams/shared-history.js'
import { createEventCache, type Delivery } from '../../src/streams/stream-event.js'
import { describeEmbeddedOnly, startMongo, type MongoTarget } from '../fixtures/mongo.js'
import { compileOrderFilter } from '../fixtures/models.js'

/**
 * Subscribers catching up from nearby positions share one read of the collection's history: each still gets
 * exactly the matching changes of its own range, in commit order, once each, also when it takes them too slowly
 * for the shared read and finishes alone. The reference is a driver change stream opened before the writes.
 */

const WRITES = 300
const customers = [new ObjectId(), new ObjectId()]
let mongo: MongoTarget
let orders: Collection
/** Every insert as the oracle saw it: its position, customer index and tenant. */
const history: Array<{ position: Position; customer: number; tenant: string }> = []
const parse = createEventCache(() => 'tenantId')

async function readOracle(oracle: ChangeStream, count: number): Promise<Document[]> {
  const out: Document[] = []
  while (out.length < count) {
    const next = await oracle.tryNext()
    if (next) out.push(next)
  }
  return out
}

beforeAll(async () => {
  mongo = await startMongo()
  orders = mongo.db.collection('orders')
  const oracle = orders.watch([], { maxAwaitTimeMS: 100 })
  await oracle.tryNext()
  for (let i = 0; i < WRITES; i += 50) {
    await orders.insertMany(
      Array.from({ length: 50 }, (_, k) => ({
        _id: new ObjectId(),
        tenantId: (i + k) % 3 === 2 ? 'globex' : 'acme',
        customerId: customers[(i + k) % 2],
        seq: i + k,
        status: 'pending',
        totalAmount: 10,
        region: 'eu-west',
        items: [],
      })),
    )
  }
  for (const raw of await readOracle(oracle, WRITES)) {
    const doc = raw.fullDocument as Document
    history.push({ position: positionFromEvent(raw as Document & { _id: { _data: string } }), customer: doc.seq % 2, tenant: doc.tenantId })
  }
  await oracle.close()
}, 60_000)

afterAll(async () => {
  await mongo?.stop()
})

/** Indexes of the writes a subscriber to (customer, tenant) must get strictly after `from` up to `until`. */
const expected = (customer: number, tenant: string, from: number, until: number) =>
  history.flatMap((h, i) => (i > from && i <= until && h.customer === customer && h.tenant === tenant ? [i] : []))

const indexOf = (delivery: Delivery) => (delivery.event.raw.fullDocument as Document).seq as number

function catchUp(share: SharedHistory | undefined, customer: number, tenant: string, from: number, until: number, on = orders) {
  const filter = compileOrderFilter({ customerId: customers[customer].toHexString() }, tenant)
  return openCatchUp({
    mongoCollection: on,
    collection: 'orders',
    filter,
    pipeline: filter.pipeline,
    evaluate: createFilterEvaluator(filter),
    parse,
    from: history[from].position,
    until: history[until].position,
    share,
  })
}

describe('shared history reads', () => {
  it('one read serves subscribers with different filters and ranges, each exactly its own matching changes in order', async () => {
    const share = createSharedHistory({ mongoCollection: orders, collection: 'orders', parse, holdLimit: 1_000 })
    const ranges = [
      { customer: 0, tenant: 'acme', from: 9, until: 249 },
      { customer: 1, tenant: 'acme', from: 20, until: 299 },
      { customer: 0, tenant: 'globex', from: 150, until: 151 },
      { customer: 1, tenant: 'globex', from: 40, until: 290 },
    ]
    const opened = await Promise.all(ranges.map((r) => catchUp(share, r.customer, r.tenant, r.from, r.until)))
    expect(share.reads).toBe(1)
    const received = await Promise.all(
      opened.map(async (c) => {
        const got: number[] = []
        await c.run(async (delivery) => {
          got.push(indexOf(delivery))
          return true
        })
        return got
      }),
    )
    ranges.forEach((r, i) => expect(received[i]).toEqual(expected(r.customer, r.tenant, r.from, r.until)))
    expect(received[0].length).toBeGreaterThan(50)
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(share.reads).toBe(0)
  })

  it('a subscriber that takes its deliveries too slowly for the shared read finishes alone, missing nothing', async () => {
    const share = createSharedHistory({ mongoCollection: orders, collection: 'orders', parse, holdLimit: 5 })
    const [fast, slow] = await Promise.all([catchUp(share, 0, 'acme', 0, 299), catchUp(share, 1, 'acme', 3, 280)])
    const fastGot: number[] = []
    await fast.run(async (delivery) => {
      fastGot.push(indexOf(delivery))
      return true
    })
    const slowGot: number[] = []
    await slow.run(async (delivery) => {
      slowGot.push(indexOf(delivery))
      await new Promise((resolve) => setTimeout(resolve, 1))
      return true
    })
    expect(fastGot).toEqual(expected(0, 'acme', 0, 299))
    expect(slowGot).toEqual(expected(1, 'acme', 3, 280))
  })

  it('a catch-up starting before where an earlier one ended reads its own range again', async () => {
    const share = createSharedHistory({ mongoCollection: orders, collection: 'orders', parse, holdLimit: 1_000 })
    const later = await catchUp(share, 0, 'acme', 200, 299)
    const laterGot: number[] = []
    await later.run(async (delivery) => {
      laterGot.push(indexOf(delivery))
      return true
    })
    const earlier = await catchUp(share, 0, 'acme', 10, 120)
    const earlierGot: number[] = []
    await earlier.run(async (delivery) => {
      earlierGot.push(indexOf(delivery))
      return true
    })
    expect(laterGot).toEqual(expected(0, 'acme', 200, 299))
    expect(earlierGot).toEqual(expected(0, 'acme', 10, 120))
  })

  it('subscribers arriving in any order of position share one read: it starts again for one that starts earlier', async () => {
    const share = createSharedHistory({ mongoCollection: orders, collection: 'orders', parse, holdLimit: 1_000 })
    // Latest start first, then ever earlier ones: each arrives after the read went past its start.
    const ranges = [260, 200, 150, 151, 90, 30, 31, 5].map((from, i) => ({ customer: i % 2, tenant: i % 3 === 0 ? 'globex' : 'acme', from, until: 299 - i }))
    const received: number[][] = ranges.map(() => [])
    const runs: Array<Promise<void>> = []
    for (const [i, r] of ranges.entries()) {
      const opened = await catchUp(share, r.customer, r.tenant, r.from, r.until)
      expect(share.reads).toBe(1)
      runs.push(
        opened.run(async (delivery) => {
          received[i].push(indexOf(delivery))
          return true
        }),
      )
      // Let the read go on before the next, earlier, subscriber arrives.
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
    await Promise.all(runs)
    ranges.forEach((r, i) => expect(received[i], `from ${r.from}`).toEqual(expected(r.customer, r.tenant, r.from, r.until)))
    expect(received[7].length).toBeGreaterThan(30)
  })

  it('past `rereadLimit` events read, an earlier subscriber opens a read of its own instead', async () => {
    const share = createSharedHistory({ mongoCollection: orders, collection: 'orders', parse, holdLimit: 1_000, rereadLimit: 0 })
    const later = await catchUp(share, 0, 'acme', 100, 299)
    const laterGot: number[] = []
    let first!: () => void
    const firstSeen = new Promise<void>((resolve) => (first = resolve))
    const laterRun = later.run(async (delivery) => {
      laterGot.push(indexOf(delivery))
      first()
      return true
    })
    await firstSeen
    const earlier = await catchUp(share, 1, 'acme', 10, 299)
    expect(share.reads).toBe(2)
    const earlierGot: number[] = []
    await earlier.run(async (delivery) => {
      earlierGot.push(indexOf(delivery))
      return true
    })
    await laterRun
    expect(laterGot).toEqual(expected(0, 'acme', 100, 299))
    expect(earlierGot).toEqual(expected(1, 'acme', 10, 299))
  })
})

describeEmbeddedOnly('shared history reads, history partly gone', () => {
  it('a subscriber whose start is gone fails with CURSOR_EXPIRED; the read it would have restarted goes on for the others', async () => {
    const small = await startMongo({ oplogMaxEntries: 100 })
    try {
      const coll = small.db.collection('orders')
      const oracle = coll.watch([], { maxAwaitTimeMS: 100 })
      await oracle.tryNext()
      const seen: Document[] = []
      for (let i = 0; i < 150; i += 50) {
        await coll.insertMany(Array.from({ length: 50 }, (_, k) => ({ _id: new ObjectId(), tenantId: 'acme', customerId: customers[0], seq: i + k })))
        seen.push(...(await readOracle(oracle, 50)))
      }
      await oracle.close()
      const at = (i: number) => positionFromEvent(seen[i] as Document & { _id: { _data: string } })
      // Its own event cache: this server's positions may equal those of the suite's other server.
      const parseHere = createEventCache(() => 'tenantId')
      const share = createSharedHistory({ mongoCollection: coll, collection: 'orders', parse: parseHere, holdLimit: 1_000 })
      const open = (from: number) => {
        const filter = compileOrderFilter({ customerId: customers[0].toHexString() }, 'acme')
        return openCatchUp({
          mongoCollection: coll,
          collection: 'orders',
          filter,
          pipeline: filter.pipeline,
          evaluate: createFilterEvaluator(filter),
          parse: parseHere,
          from: at(from),
          until: at(149),
          share,
        })
      }
      const kept = await open(100)
      await expect(open(10)).rejects.toMatchObject({ extensions: { code: 'CURSOR_EXPIRED' } })
      const got: number[] = []
      await kept.run(async (delivery) => {
        got.push(indexOf(delivery))
        return true
      })
      expect(got).toEqual(Array.from({ length: 49 }, (_, k) => 101 + k))
    } finally {
      await small.stop()
    }
  })
})
