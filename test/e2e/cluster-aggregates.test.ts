/**
 * Live aggregates across a gateway cluster: every node holding an `orderAggregate` subscriber keeps the aggregate
 * from the cluster's shared change stream (ownership, takeover, sequence checks, gap fill). Through a burst of random
 * inserts, updates, replaces, deletes and tenant moves with the stream's owner SIGKILLed mid-way, every value every
 * subscriber receives equals the aggregate of the documents as of its cursor (an oracle change stream opened by the
 * test before the first write), and the last all-time values equal the final state. Subscribers of the killed node
 * continue on a survivor with `after:` their last cursor and are exact there too.
 */
import type { Client } from 'graphql-ws'
import { ObjectId, type AnyBulkWriteOperation, type Collection, type Document } from 'mongodb'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { comparePositions } from '../../src/mongo/position.js'
import { cursorPosition, expectedGroups, expectSameGroups, openChangeOracle, type AggregateCase, type ChangeOracle, type Value } from '../fixtures/aggregate-oracle.js'
import { agreedOwner, sleep, startCluster, waitUntil, type Cluster, type ClusterNode } from '../fixtures/cluster.js'
import { collect, signToken, wsClient, type Collector } from '../fixtures/gateway.js'

const NODES = ['node-a', 'node-b', 'node-c'] as const
const STATUSES = ['pending', 'confirmed', 'shipped', 'delivered', 'cancelled', 'returned']
const REGIONS = ['eu-west', 'us-east', 'ap-south']
const TENANTS = ['acme', 'globex']
/** Random operations in the burst; some change nothing (an update to the same values), the rest are changes. */
const OPERATIONS = 2_600
const MIN_CHANGES = 2_000
const BATCH = 20
const BURST_MS = 9_000
const KILL_AFTER = 900
const THROTTLE_MS = 100

const CASES: readonly AggregateCase[] = [
  { name: 'acme, all time by status', tenant: 'acme', matches: () => true, groupBy: ['STATUS'] },
  {
    name: 'globex, eu-west, all time by status',
    tenant: 'globex',
    where: { region: { eq: 'eu-west' } },
    matches: (d) => d.region === 'eu-west',
    groupBy: ['STATUS'],
  },
  { name: 'acme, sliding window on commit time by status', tenant: 'acme', matches: () => true, groupBy: ['STATUS'], window: { size: 6, slide: 2 } },
]

const SUBSCRIBE = `subscription($where: OrderWhere, $groupBy: [OrderGroupBy!], $window: OrderAggregateWindow, $throttleMs: Int, $after: Cursor) {
  orderAggregate(where: $where, groupBy: $groupBy, window: $window, throttleMs: $throttleMs, after: $after) {
    cursor asOf windowStart windowEnd
    groups { key { status region currency } count sum { totalAmount } avg { totalAmount } min { totalAmount } max { totalAmount } }
  }
}`

interface AggregateFeed {
  readonly nodeId: string
  readonly client: Client
  readonly values: Collector<Value>
  /** Set once the subscription ended (its socket closed, or the server completed it). */
  ended: boolean
}

/** One dashboard: an aggregate subscription that continues on another node with its last cursor. */
interface AggregateSubscriber {
  readonly label: string
  readonly case: AggregateCase
  readonly feeds: AggregateFeed[]
  readonly current: AggregateFeed
  lastCursor(): string | undefined
  reconnect(node: ClusterNode): Promise<void>
  dispose(): Promise<void>
}

const tokens = new Map<string, Promise<string>>()
const tokenOf = (tenant: string) => {
  if (!tokens.has(tenant)) tokens.set(tenant, signToken({ tenant }, 3600))
  return tokens.get(tenant)!
}

async function openAggregate(node: ClusterNode, c: AggregateCase, after?: string): Promise<AggregateFeed> {
  const client = wsClient(node.wsUrl, await tokenOf(c.tenant))
  const values = collect<Value>(client, SUBSCRIBE, { where: c.where ?? null, groupBy: c.groupBy, window: c.window ?? null, throttleMs: THROTTLE_MS, after: after ?? null })
  const feed: AggregateFeed = { nodeId: node.id, client, values, ended: false }
  void values.completed.then(() => (feed.ended = true))
  return feed
}

async function subscribeAggregate(node: ClusterNode, c: AggregateCase): Promise<AggregateSubscriber> {
  const feeds = [await openAggregate(node, c)]
  const subscriber: AggregateSubscriber = {
    label: `${node.id}/${c.name}`,
    case: c,
    feeds,
    get current() {
      return feeds[feeds.length - 1]
    },
    lastCursor() {
      for (let n = feeds.length - 1; n >= 0; n--) {
        const last = feeds[n].values.events.at(-1)
        if (last) return last.cursor
      }
      return undefined
    },
    async reconnect(target) {
      const after = subscriber.lastCursor()
      if (!after) throw new Error(`${subscriber.label} received nothing to continue from`)
      feeds.push(await openAggregate(target, c, after))
    },
    async dispose() {
      await Promise.all(feeds.map((feed) => feed.client.dispose()))
    },
  }
  return subscriber
}

/** Random orders of two tenants and random changes to them, from a fixed seed. */
function createWorkload(seed: number) {
  let random = seed
  const next = (n: number) => ((random = (random * 1103515245 + 12345) % 2147483648) >>> 8) % n
  const amount = () => Math.round(next(20_000) + next(100) / 7) / 100 + (next(3) === 0 ? 0.1 : 0)
  const make = (): Document => ({
    _id: new ObjectId(),
    tenantId: TENANTS[next(2)],
    customerId: new ObjectId(),
    status: STATUSES[next(STATUSES.length)],
    region: next(10) === 0 ? null : REGIONS[next(REGIONS.length)],
    currency: next(2) === 0 ? 'EUR' : 'USD',
    ...(next(15) === 0 ? {} : { totalAmount: amount() }),
    items: [],
    createdAt: new Date(),
    updatedAt: new Date(),
  })
  const ids: ObjectId[] = []
  const batch = (size: number): AnyBulkWriteOperation[] => {
    const ops: AnyBulkWriteOperation[] = []
    for (let n = 0; n < size; n++) {
      const op = ids.length < 50 ? 0 : next(10)
      const pick = ids[next(ids.length)]
      if (op <= 2) {
        const doc = make()
        ids.push(doc._id as ObjectId)
        ops.push({ insertOne: { document: doc } })
      } else if (op <= 5) {
        const set: Document = { status: STATUSES[next(STATUSES.length)] }
        if (next(2) === 0) set.totalAmount = amount()
        if (next(4) === 0) set.region = REGIONS[next(REGIONS.length)]
        ops.push({ updateOne: { filter: { _id: pick }, update: next(12) === 0 ? { $unset: { totalAmount: '' } } : { $set: set } } })
      } else if (op === 6) {
        const { _id, ...rest } = make()
        ops.push({ replaceOne: { filter: { _id: pick }, replacement: rest } })
      } else if (op === 7) {
        ops.push({ deleteOne: { filter: { _id: pick } } })
        ids.splice(ids.indexOf(pick), 1)
      } else {
        ops.push({ updateOne: { filter: { _id: pick }, update: { $set: { tenantId: TENANTS[next(2)] } } } })
      }
    }
    return ops
  }
  return { make, ids, batch }
}

/** `expectSameGroups` as a yes/no, for waiting. */
function sameGroups(actual: Value['groups'], expected: Value['groups']): boolean {
  try {
    expectSameGroups(actual, expected, '')
    return true
  } catch {
    return false
  }
}

describe('live aggregates across a cluster', () => {
  let cluster: Cluster
  let orders: Collection
  let oracle: ChangeOracle | undefined
  const subscribers: AggregateSubscriber[] = []
  let writing = true

  beforeAll(async () => {
    // One node at a time, with time to spare: the processes start slowly on a busy machine.
    cluster = await startCluster({ nodes: [NODES[0]], startTimeoutMs: 60_000 })
    for (const id of NODES.slice(1)) await cluster.startNode(id)
    orders = cluster.db.collection('orders')
  }, 240_000)

  afterAll(async () => {
    writing = false
    await Promise.all(subscribers.map((s) => s.dispose()))
    await oracle?.close()
    await cluster?.stop()
  })

  it('owner SIGKILL mid-burst: every value on every node is exact at its cursor, the last all-time values are the final state, moved dashboards continue exactly', async () => {
    oracle = await openChangeOracle(orders)
    const workload = createWorkload(4242)
    let writes = 0

    // Documents that exist before anyone subscribes.
    const seed = Array.from({ length: 200 }, workload.make)
    await orders.insertMany(seed)
    workload.ids.push(...seed.map((d) => d._id as ObjectId))
    writes += seed.length

    for (const id of NODES) for (const c of CASES) subscribers.push(await subscribeAggregate(cluster.node(id), c))
    await Promise.all(subscribers.map((s) => s.current.values.waitFor(1, 20_000)))
    const before = await agreedOwner(cluster, NODES)
    const survivors = NODES.filter((id) => id !== before.ownerNode)

    // The burst: batches of random changes, paced over BURST_MS; the owner is killed once KILL_AFTER are committed.
    let done = 0
    let killed: Promise<void> | undefined
    let reachedKill!: () => void
    const killing = new Promise<void>((resolve) => (reachedKill = resolve))
    const interval = BURST_MS / (OPERATIONS / BATCH)
    const burst = (async () => {
      let due = Date.now()
      while (done < OPERATIONS && writing) {
        if (due > Date.now()) await sleep(due - Date.now())
        due = Math.max(due, Date.now() - interval) + interval
        const result = await orders.bulkWrite(workload.batch(BATCH), { ordered: true })
        writes += result.insertedCount + result.modifiedCount + result.deletedCount
        done += BATCH
        if (!killed && done >= KILL_AFTER) {
          killed = cluster.kill(before.ownerNode)
          reachedKill()
        }
      }
    })()

    await Promise.race([killing, burst])
    expect(killed, `the burst ended before ${KILL_AFTER} operations`).toBeDefined()
    await killed
    // Dashboards of the dead node continue on a survivor as soon as their socket closes, after their last value.
    const orphans = subscribers.filter((s) => s.current.nodeId === before.ownerNode)
    await Promise.all(
      orphans.map(async (subscriber, n) => {
        await waitUntil(() => subscriber.current.ended, 10_000, () => `${subscriber.label} was not disconnected`)
        await subscriber.reconnect(cluster.node(survivors[n % survivors.length]))
      }),
    )
    await burst
    await oracle.waitFor(writes)
    const finalPosition = oracle.events.at(-1)!.position
    const finalDocs = oracle.documentsAt(finalPosition)

    // Every all-time dashboard reaches the final state (a wrong one never does, and fails below).
    const allTime = subscribers.filter((s) => !s.case.window)
    await waitUntil(
      () =>
        allTime.every((s) => {
          const last = s.current.values.events.at(-1)
          return last !== undefined && sameGroups(last.groups, expectedGroups(s.case, finalDocs, new Date()))
        }),
      20_000,
      () => `all-time values did not reach the final state\n${cluster.diagnostics()}`,
    ).catch(() => undefined)
    // Windowed values keep coming without writes for a while.
    await sleep(2 * THROTTLE_MS + 1_000)

    // Every value, at its cursor.
    let checked = 0
    for (const subscriber of subscribers) {
      for (const [n, feed] of subscriber.feeds.entries()) {
        const orphaned = n === 0 && orphans.includes(subscriber)
        if (!orphaned) expect(feed.values.errors, `${subscriber.label} on ${feed.nodeId}`).toEqual([])
        expect(feed.values.events.length, `${subscriber.label} on ${feed.nodeId}`).toBeGreaterThan(0)
        const replay = oracle.replay()
        for (const value of feed.values.events) {
          const position = cursorPosition(value.cursor)
          const context = `${subscriber.label} on ${feed.nodeId} at ${value.cursor.split('.')[0]} (${value.asOf})`
          expectSameGroups(value.groups, expectedGroups(subscriber.case, replay.at(position), new Date(value.asOf)), context)
          checked++
        }
      }
    }
    // A continued dashboard starts at or after where it left off.
    for (const subscriber of orphans) {
      const [first, second] = subscriber.feeds
      expect(subscriber.feeds.length, subscriber.label).toBe(2)
      const leftAt = cursorPosition(first.values.events.at(-1)!.cursor)
      const resumedAt = cursorPosition(second.values.events[0].cursor)
      expect(comparePositions(resumedAt, leftAt), subscriber.label).toBeGreaterThanOrEqual(0)
    }
    // The dashboards of the survivors never had to move.
    expect(subscribers.filter((s) => !orphans.includes(s)).map((s) => s.feeds.length)).toEqual(Array(subscribers.length - orphans.length).fill(1))
    // The last value of every all-time dashboard on every surviving node is the final state.
    for (const subscriber of allTime) {
      const last = subscriber.current.values.events.at(-1)!
      expect(survivors, subscriber.label).toContain(subscriber.current.nodeId)
      expectSameGroups(last.groups, expectedGroups(subscriber.case, finalDocs, new Date()), `${subscriber.label}, final, on ${subscriber.current.nodeId}`)
    }
    // The windowed dashboards followed to the end too: they last reflect the same change as the all-time one of
    // their tenant with the same conditions, on the same node.
    for (const subscriber of subscribers.filter((s) => s.case.window)) {
      const sameTenant = allTime.find((s) => s.current.nodeId === subscriber.current.nodeId && s.case.tenant === subscriber.case.tenant && !s.case.where)!
      const windowedAt = cursorPosition(subscriber.current.values.events.at(-1)!.cursor)
      const allTimeAt = cursorPosition(sameTenant.current.values.events.at(-1)!.cursor)
      expect(comparePositions(windowedAt, allTimeAt), `${subscriber.label} against ${sameTenant.label}`).toBe(0)
    }
    expect(orphans.length).toBe(CASES.length)
    expect(writes - seed.length, 'changes in the burst').toBeGreaterThanOrEqual(MIN_CHANGES)
    expect(checked).toBeGreaterThan(100)

    const after = await agreedOwner(cluster, survivors)
    expect(survivors).toContain(after.ownerNode)
  }, 120_000)
})
