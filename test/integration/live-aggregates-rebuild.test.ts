import type { Client } from 'graphql-ws'
import { ObjectId, type AnyBulkWriteOperation, type Collection, type Document } from 'mongodb'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { cursorExpired, slowConsumer, type GatewayError } from '../../src/errors.js'
import type { SubscriberQueue } from '../../src/streams/subscriber-queue.js'
import type * as Subscriptions from '../../src/streams/subscription.js'
import { cursorPosition, expectedGroups, expectSameGroups, openChangeOracle, type AggregateCase, type ChangeOracle, type Value } from '../fixtures/aggregate-oracle.js'
import { startTestGateway, type TestGateway } from '../fixtures/app.js'
import { collect, type Collector, metricSum, wsClient } from '../fixtures/gateway.js'

/**
 * A live aggregate whose own subscription fails because it fell behind (SLOW_CONSUMER, CURSOR_EXPIRED) is computed
 * again, transparently: its subscribers get no error, and every value they get, before and after, equals the
 * oracle's aggregate at its cursor. Past a few failures in a row, or on STREAM_INVALIDATED, they get the error.
 *
 * Everything is real (gateway, driver, MongoDB, sockets) but the failure itself: the gateway's subscriptions are
 * recorded as they open, and the test ends the aggregates' ones with the error a subscription that fell behind
 * gets. (The aggregate applies each change as it arrives: even with a one-event buffer, bursts did not make it fall
 * behind here, so only a forced failure makes this reproducible.)
 */

const internal = vi.hoisted(() => ({ queues: [] as Array<{ fail(error: GatewayError): void; readonly closed: boolean }> }))
vi.mock('../../src/streams/subscription.js', async (importOriginal) => {
  const original = await importOriginal<typeof Subscriptions>()
  return {
    ...original,
    openSubscription: async (...args: Parameters<typeof original.openSubscription>) => {
      const queue: SubscriberQueue<unknown> = await original.openSubscription(...args)
      internal.queues.push(queue)
      return queue
    },
  }
})

/** The gateway's open subscriptions (here: only the aggregates' own), among those opened since `from`. */
const openSince = (from: number) => internal.queues.slice(from).filter((q) => !q.closed)

/** Ends them with `error`, as a subscription that fell behind is ended; returns how many. */
function failInternal(from: number, error: () => GatewayError): number {
  const open = openSince(from)
  for (const queue of open) queue.fail(error())
  return open.length
}

const STATUSES = ['pending', 'confirmed', 'shipped', 'cancelled']
const CASES: readonly AggregateCase[] = [
  { name: 'all time by status', tenant: 'acme', matches: () => true, groupBy: ['STATUS'] },
  { name: 'all time, total ≥ 50, one group', tenant: 'acme', where: { totalAmount: { gte: 50 } }, matches: (d) => d.totalAmount >= 50, groupBy: [] },
  { name: 'sliding window on commit time by status', tenant: 'acme', matches: () => true, groupBy: ['STATUS'], window: { size: 600, slide: 60 } },
]

const SUBSCRIBE = `subscription($where: OrderWhere, $groupBy: [OrderGroupBy!], $window: OrderAggregateWindow, $throttleMs: Int) {
  orderAggregate(where: $where, groupBy: $groupBy, window: $window, throttleMs: $throttleMs) {
    cursor asOf windowStart windowEnd
    groups { key { status region currency } count sum { totalAmount } avg { totalAmount } min { totalAmount } max { totalAmount } }
  }
}`

let gw: TestGateway

/** `changegate_aggregate_rebuilds_total` summed over its labels. */

const rebuilds = () => metricSum(gw.url, 'changegate_aggregate_rebuilds_total')
let orders: Collection
let oracle: ChangeOracle
const clients: Client[] = []

describe('a live aggregate whose own subscription falls behind', () => {
  let random = 777
  const next = (n: number) => ((random = (random * 1103515245 + 12345) % 2147483648) >>> 8) % n
  const make = (): Document => ({
    _id: new ObjectId(),
    tenantId: next(4) === 0 ? 'globex' : 'acme',
    status: STATUSES[next(STATUSES.length)],
    region: 'eu-west',
    currency: 'EUR',
    totalAmount: next(10_000) / 100,
    createdAt: new Date(),
    items: [],
    customerId: new ObjectId(),
  })
  const ids: ObjectId[] = []
  let writes = 0
  /** Inserts, updates and deletes, in one ordered bulk write. */
  const burst = async (size: number) => {
    const batch: AnyBulkWriteOperation[] = []
    for (let n = 0; n < size; n++) {
      const op = ids.length < 20 ? 0 : next(4)
      const pick = ids[next(ids.length)]
      if (op <= 1) {
        const doc = make()
        ids.push(doc._id as ObjectId)
        batch.push({ insertOne: { document: doc } })
      } else if (op === 2) {
        batch.push({ updateOne: { filter: { _id: pick }, update: { $set: { status: STATUSES[next(STATUSES.length)], totalAmount: next(10_000) / 100 } } } })
      } else {
        batch.push({ deleteOne: { filter: { _id: pick } } })
        ids.splice(ids.indexOf(pick), 1)
      }
    }
    const result = await orders.bulkWrite(batch, { ordered: true })
    writes += result.insertedCount + result.modifiedCount + result.deletedCount
  }
  const subscribe = async (c: AggregateCase): Promise<Collector<Value>> => {
    const client = wsClient(gw.wsUrl, await gw.token(c.tenant))
    clients.push(client)
    return collect<Value>(client, SUBSCRIBE, { where: c.where ?? null, groupBy: c.groupBy, window: c.window ?? null, throttleMs: 0 })
  }

  beforeAll(async () => {
    gw = await startTestGateway({ env: { CHANGEGATE_LOG_LEVEL: 'error' } })
    orders = gw.mongo.db.collection('orders')
    oracle = await openChangeOracle(orders)
  })
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.dispose()))
    await oracle?.close()
    await gw?.stop()
  })

  it('is computed again: no error, and every value equals the oracle at its cursor', async () => {
    await burst(100)
    const collectors = await Promise.all(CASES.map(subscribe))
    await Promise.all(collectors.map((collector) => collector.waitFor(1)))

    // Fails while writes keep coming, and again once it was rebuilt (each at the first of up to 3 in a row: the
    // backoff is 250 ms, then 500 ms).
    for (const [round, error] of [slowConsumer, cursorExpired].entries()) {
      await burst(40)
      expect(failInternal(0, error)).toBe(CASES.length)
      for (let n = 0; n < 5; n++) {
        await burst(40)
        await new Promise((r) => setTimeout(r, 30))
      }
      await expect.poll(rebuilds, { timeout: 10_000 }).toBe((round + 1) * CASES.length)
      await expect.poll(() => openSince(0).length, { timeout: 10_000 }).toBe(CASES.length)
    }
    // Writes after the last rebuild are followed too.
    for (let n = 0; n < 5; n++) await burst(40)

    await oracle.waitFor(writes)
    const all = oracle.documentsAt(oracle.events.at(-1)!.position)
    for (const [n, c] of CASES.entries()) {
      const expected = expectedGroups(c, all, new Date())
      await vi.waitFor(() => expectSameGroups(collectors[n].events.at(-1)!.groups, expected, `${c.name}, final`), { timeout: 30_000, interval: 100 })
    }
    let checked = 0
    for (const [n, c] of CASES.entries()) {
      expect(collectors[n].errors, c.name).toEqual([])
      const replay = oracle.replay()
      for (const value of collectors[n].events) {
        expectSameGroups(value.groups, expectedGroups(c, replay.at(cursorPosition(value.cursor)), new Date(value.asOf)), `${c.name} at ${value.asOf}`)
        checked++
      }
    }
    expect(checked).toBeGreaterThan(3 * CASES.length)
  })

  it('ends its subscribers with the error after failing again and again', async () => {
    const c: AggregateCase = { name: 'by status, not cancelled', tenant: 'acme', where: { status: { ne: 'CANCELLED' } }, matches: (d) => d.status !== 'cancelled', groupBy: ['STATUS'] }
    const from = internal.queues.length
    const collector = await subscribe(c)
    await collector.waitFor(1)
    const before = await rebuilds()
    // Each failure as soon as the aggregate follows its stream again: the first three are repaired, the fourth is not.
    for (let n = 0; n < 4; n++) {
      await expect.poll(() => openSince(from).length, { timeout: 10_000 }).toBe(1)
      expect(failInternal(from, slowConsumer)).toBe(1)
    }
    await collector.completed
    expect(collector.errors.map((e) => e.extensions?.code)).toEqual(['SLOW_CONSUMER'])
    expect((await rebuilds()) - before).toBe(3)
  })

  it('ends its subscribers with STREAM_INVALIDATED when the collection is dropped', async () => {
    const collector = await subscribe(CASES[0])
    await collector.waitFor(1)
    const before = await rebuilds()
    // The oracle has served its purpose (a drop has no document to account for).
    await oracle.close()
    await orders.drop()
    await collector.completed
    expect(collector.errors.map((e) => e.extensions?.code)).toEqual(['STREAM_INVALIDATED'])
    expect(await rebuilds()).toBe(before)
  })
})
