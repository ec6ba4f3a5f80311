import type { Client } from 'graphql-ws'
import { ObjectId, type AnyBulkWriteOperation, type Collection, type Document } from 'mongodb'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { cursorPosition, expectedGroups, expectSameGroups, openChangeOracle, type AggregateCase, type ChangeOracle, type Value } from '../fixtures/aggregate-oracle.js'
import { startTestGateway, type TestGateway } from '../fixtures/app.js'
import { changeCursor, collect, type Collector, httpGraphQL, wsClient } from '../fixtures/gateway.js'
import { loadSupportDesk } from '../fixtures/model-cases.js'

/**
 * Live aggregates (`orderAggregate`): every value, at its cursor, equals the aggregate an independent oracle computes
 * from the documents as of that cursor (counts exactly, sums and averages to 1e-9 relative, min and max exactly),
 * through random inserts, updates, replaces, deletes and tenant moves.
 */

const STATUSES = ['pending', 'confirmed', 'shipped', 'delivered', 'cancelled', 'returned']
const REGIONS = ['eu-west', 'us-east', 'ap-south']
const CURRENCIES = ['EUR', 'USD']
const TENANTS = ['acme', 'globex']

const CASES: readonly AggregateCase[] = [
  { name: 'all time by status', tenant: 'acme', matches: () => true, groupBy: ['STATUS'] },
  {
    name: 'all time, one region, by status and currency',
    tenant: 'globex',
    where: { region: { eq: 'eu-west' } },
    matches: (d) => d.region === 'eu-west',
    groupBy: ['STATUS', 'CURRENCY'],
  },
  { name: 'all time, total ≥ 50, one group', tenant: 'acme', where: { totalAmount: { gte: 50 } }, matches: (d) => d.totalAmount >= 50, groupBy: [] },
  { name: 'sliding window on commit time by region', tenant: 'acme', matches: () => true, groupBy: ['REGION'], window: { size: 4, slide: 1 } },
  {
    name: 'sliding window on createdAt by status, not cancelled',
    tenant: 'globex',
    where: { status: { ne: 'CANCELLED' } },
    matches: (d) => d.status !== 'cancelled',
    groupBy: ['STATUS'],
    window: { size: 6, slide: 2, on: 'CREATED_AT' },
  },
  { name: 'tumbling window on commit time', tenant: 'globex', matches: () => true, groupBy: [], window: { size: 3 } },
]

const SUBSCRIBE = `subscription($where: OrderWhere, $groupBy: [OrderGroupBy!], $window: OrderAggregateWindow, $throttleMs: Int, $after: Cursor) {
  orderAggregate(where: $where, groupBy: $groupBy, window: $window, throttleMs: $throttleMs, after: $after) {
    cursor asOf windowStart windowEnd
    groups { key { status region currency } count sum { totalAmount } avg { totalAmount } min { totalAmount } max { totalAmount } }
  }
}`

describe('live aggregates against an oracle', () => {
  let gw: TestGateway
  let orders: Collection
  let oracle: ChangeOracle
  const clients: Client[] = []

  // Each collector's own client: the one to drop is found by its collector, never by the order clients were made in
  // (the tokens are signed concurrently, and finish in any order).
  const clientOf = new Map<Collector<Value>, Client>()
  const subscribe = async (c: AggregateCase, after?: string, throttleMs = 100): Promise<Collector<Value>> => {
    const client = wsClient(gw.wsUrl, await gw.token(c.tenant))
    clients.push(client)
    const collector = collect<Value>(client, SUBSCRIBE, { where: c.where ?? null, groupBy: c.groupBy, window: c.window ?? null, throttleMs, after: after ?? null })
    clientOf.set(collector, client)
    return collector
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

  it('every value equals the aggregate of the documents as of its cursor, through 10,000 random changes, and a resumed subscriber is exact again', async () => {
    let random = 12345
    const next = (n: number) => ((random = (random * 1103515245 + 12345) % 2147483648) >>> 8) % n
    const amount = () => Math.round(next(20_000) + next(100) / 7) / 100 + (next(3) === 0 ? 0.1 : 0)
    const createdAt = () => new Date(Date.now() + (next(21) - 15) * 1000)
    const make = (): Document => ({
      _id: new ObjectId(),
      tenantId: TENANTS[next(2)],
      status: STATUSES[next(STATUSES.length)],
      region: next(10) === 0 ? null : REGIONS[next(REGIONS.length)],
      currency: CURRENCIES[next(2)],
      ...(next(15) === 0 ? {} : { totalAmount: amount() }),
      createdAt: createdAt(),
      items: [],
      customerId: new ObjectId(),
    })
    const ids: ObjectId[] = []
    let writes = 0

    // Some documents exist before anyone subscribes.
    const seed = Array.from({ length: 300 }, make)
    await orders.insertMany(seed)
    ids.push(...seed.map((d) => d._id as ObjectId))
    writes += seed.length

    const collectors = await Promise.all(CASES.map((c) => subscribe(c)))
    await Promise.all(collectors.map((collector) => collector.waitFor(1)))
    let resumed: Collector<Value> | undefined
    let dropped: Collector<Value> | undefined

    const OPERATIONS = 10_000
    for (let done = 0; done < OPERATIONS; ) {
      const batch: AnyBulkWriteOperation[] = []
      for (let n = 0; n < 25; n++, done++) {
        const op = ids.length < 50 ? 0 : next(10)
        const pick = ids[next(ids.length)]
        if (op <= 2) {
          const doc = make()
          ids.push(doc._id as ObjectId)
          batch.push({ insertOne: { document: doc } })
        } else if (op <= 5) {
          const set: Document = { status: STATUSES[next(STATUSES.length)] }
          if (next(2) === 0) set.totalAmount = amount()
          if (next(4) === 0) set.region = REGIONS[next(REGIONS.length)]
          if (next(4) === 0) set.createdAt = createdAt()
          batch.push({ updateOne: { filter: { _id: pick }, update: next(12) === 0 ? { $unset: { totalAmount: '' } } : { $set: set } } })
        } else if (op === 6) {
          const { _id, ...rest } = make()
          batch.push({ replaceOne: { filter: { _id: pick }, replacement: rest } })
        } else if (op === 7) {
          batch.push({ deleteOne: { filter: { _id: pick } } })
          ids.splice(ids.indexOf(pick), 1)
        } else {
          batch.push({ updateOne: { filter: { _id: pick }, update: { $set: { tenantId: TENANTS[next(2)] } } } })
        }
      }
      const result = await orders.bulkWrite(batch, { ordered: true })
      writes += result.insertedCount + result.modifiedCount + result.deletedCount
      if (done === 4000) {
        // A dashboard drops off mid-run...
        dropped = collectors[0]
        await clientOf.get(dropped)!.dispose()
      }
      if (done === 6000) {
        // ...and comes back with its last cursor.
        const last = dropped!.events.at(-1)!
        resumed = await subscribe(CASES[0], last.cursor)
      }
      await new Promise((r) => setTimeout(r, 4))
    }
    await oracle.waitFor(writes)
    // Windows keep moving after the last write: values keep coming without writes.
    await new Promise((r) => setTimeout(r, 2500))
    // A loaded machine may leave the gateway behind the last write: the all-time values must get there (bounded wait).
    const all = oracle.documentsAt(oracle.events.at(-1)!.position)
    for (const [n, c] of CASES.entries()) {
      if (c.window || n === 0) continue
      const expected = expectedGroups(c, all, new Date())
      await vi.waitFor(() => expectSameGroups(collectors[n].events.at(-1)!.groups, expected, `${c.name}, final (${collectors[n].events.length} values, last at ${collectors[n].events.at(-1)!.asOf}; errors ${JSON.stringify(collectors[n].errors)})`), { timeout: 90_000, interval: 250 })
    }

    const everyone: [AggregateCase, Collector<Value>][] = [...CASES.map((c, n) => [c, collectors[n]] as [AggregateCase, Collector<Value>]), [CASES[0], resumed!]]
    let checked = 0
    for (const [c, collector] of everyone) {
      expect(collector.errors, c.name).toEqual([])
      expect(collector.events.length, c.name).toBeGreaterThan(20)
      const replay = oracle.replay()
      for (const value of collector.events) {
        const position = cursorPosition(value.cursor)
        expectSameGroups(value.groups, expectedGroups(c, replay.at(position), new Date(value.asOf)), `${c.name} at ${value.asOf}`)
        checked++
      }
    }
    // The resumed subscriber started at or after its cursor, exact.
    expect(resumed!.events.length).toBeGreaterThan(0)
    expect(checked).toBeGreaterThan(200)
  }, 330_000)
})

describe('live aggregates: limits, sharing, any configuration', () => {
  let gw: TestGateway
  const clients: Client[] = []
  const open = async (tenant: string, query: string, variables: Record<string, unknown> = {}) => {
    const client = wsClient(gw.wsUrl, await gw.token(tenant))
    clients.push(client)
    return collect<Record<string, unknown>>(client, query, variables)
  }

  beforeAll(async () => {
    gw = await startTestGateway({ models: await loadSupportDesk(), env: { CHANGEGATE_AGGREGATE_MAX_GROUPS: '3' } })
  })
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.dispose()))
    await gw?.stop()
  })

  it('aggregates a nested tenant, an enum with other stored values and nested numbers; subscribers of one aggregate share it', async () => {
    const tickets = gw.mongo.db.collection('tickets')
    const ticket = (org: string, priority: string, severity: number, hours?: number) => ({
      org: { id: org },
      title: 't',
      open: true,
      priority,
      severity,
      ...(hours === undefined ? {} : { sla: { hours, tier: 'gold' } }),
    })
    await tickets.insertMany([ticket('acme', 'p0', 3, 4), ticket('acme', 'p0', 5), ticket('acme', 'low', 1, 8), ticket('globex', 'p0', 9, 1)])
    const QUERY = `subscription { ticketAggregate(groupBy: [PRIORITY], throttleMs: 0) {
      groups { key { priority slaTier } count sum { severity slaHours } avg { slaHours } min { severity } max { severity } } } }`
    const a = await open('acme', QUERY)
    const b = await open('acme', QUERY)
    await a.waitFor(1)
    await b.waitFor(1)
    expect(a.events[0]).toEqual({
      groups: [
        { key: { priority: 'LOW', slaTier: null }, count: 1, sum: { severity: 1, slaHours: 8 }, avg: { slaHours: 8 }, min: { severity: 1 }, max: { severity: 1 } },
        { key: { priority: 'URGENT', slaTier: null }, count: 2, sum: { severity: 8, slaHours: 4 }, avg: { slaHours: 4 }, min: { severity: 3 }, max: { severity: 5 } },
      ],
    })
    const admin = await gw.token('acme', 'admin')
    const { body } = await httpGraphQL<{ streams: { collection: string; subscribers: number }[] }>(gw.url, admin, '{ streams { collection subscribers } }')
    expect(body.data!.streams.find((s) => s.collection === 'tickets')?.subscribers).toBe(1)

    await tickets.updateOne({ severity: 5 }, { $set: { priority: 'high', sla: { hours: 2 } } })
    await a.waitFor(2)
    await b.waitFor(2)
    expect(a.events[1]).toEqual(b.events[1])
    expect((a.events[1] as { groups: { key: { priority: string }; count: number }[] }).groups.map((g) => [g.key.priority, g.count])).toEqual([
      ['HIGH', 1],
      ['LOW', 1],
      ['URGENT', 1],
    ])
  })

  it('refuses an aggregate with more groups than allowed, at start and when it grows past the limit', async () => {
    const agents = gw.mongo.db.collection('agents')
    await agents.insertMany(['a', 'b', 'c'].map((name) => ({ orgId: 'initech', name })))
    const QUERY = 'subscription { agentAggregate(groupBy: [NAME], throttleMs: 0) { groups { key { name } count } } }'
    const growing = await open('initech', QUERY)
    await growing.waitFor(1)
    await agents.insertOne({ orgId: 'initech', name: 'd' })
    await growing.completed
    expect(growing.errors.map((e) => e.extensions?.code)).toEqual(['BAD_USER_INPUT'])
    expect(growing.errors[0].message).toMatch(/more than 3 groups/)
    const late = await open('initech', QUERY)
    await late.completed
    expect(late.events).toEqual([])
    expect(late.errors.map((e) => e.extensions?.code)).toEqual(['BAD_USER_INPUT'])
  })

  it('refuses invalid arguments and another tenant\'s cursor', async () => {
    const window = await open('acme', 'subscription { ticketAggregate(window: { size: 10, slide: 4 }) { asOf } }')
    await window.completed
    expect(window.errors.map((e) => e.extensions?.code)).toEqual(['BAD_USER_INPUT'])
    const cursor = await changeCursor(gw.url, await gw.token('globex'))
    const foreign = await open('acme', 'subscription($after: Cursor) { ticketAggregate(after: $after) { asOf } }', { after: cursor })
    await foreign.completed
    expect(foreign.errors.map((e) => e.extensions?.code)).toEqual(['INVALID_CURSOR'])
  })
})
