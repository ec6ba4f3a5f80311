import { ObjectId, type Collection, type Document } from 'mongodb'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { TypedDocumentNode } from '@graphql-typed-document-node/core'
import type { Client } from 'graphql-ws'
import { startTestGateway, type TestGateway } from '../fixtures/app.js'
import { changeStreamCursors } from '../fixtures/current-op.js'
import { collectTyped, queryTyped, wsClient } from '../fixtures/gateway.js'
import {
  ChangeCursorDocument,
  ExplainSubscriptionDocument,
  OrderChangedDocument,
  OrderChangedWithCustomerDocument,
  OrdersDocument,
  StreamsDocument,
  UserProfileUpdatedDocument,
  type OrderChangeFilter,
} from '../fixtures/generated/graphql.js'

let gw: TestGateway
let orders: Collection
let users: Collection
const clients: Client[] = []

const client = async (tenant: string) => {
  const c = wsClient(gw.wsUrl, await gw.token(tenant))
  clients.push(c)
  return c
}

const order = (over: Document = {}): Document => ({
  _id: new ObjectId(),
  tenantId: 'acme',
  customerId: new ObjectId(),
  status: 'pending',
  totalAmount: 100,
  currency: 'EUR',
  region: 'eu-west',
  items: [{ productId: 'sku-1', quantity: 1, unitPrice: 100 }],
  createdAt: new Date(),
  updatedAt: new Date(),
  ...over,
})

/** Quiet period after the last expected event, to show that nothing more arrives. */
const settle = () => new Promise((r) => setTimeout(r, 300))

/**
 * Subscribes from "now" (a changeCursor taken first): every write the test makes afterwards is delivered, however
 * long the subscribe message takes to reach the gateway.
 */
async function fromNow<R extends Record<string, unknown>, V extends Record<string, unknown>>(
  tenant: string,
  document: TypedDocumentNode<R, V>,
  variables: V,
) {
  const token = await gw.token(tenant)
  const after = (await queryTyped(gw.url, token, ChangeCursorDocument)).body.data!.changeCursor
  return collectTyped(await client(tenant), document, { after, ...variables })
}

beforeAll(async () => {
  gw = await startTestGateway()
  orders = gw.mongo.db.collection('orders')
  users = gw.mongo.db.collection('users')
})

afterAll(async () => {
  await Promise.all(clients.map((c) => c.dispose()))
  await gw?.stop()
})

describe('orderChanged', () => {
  it('delivers ENTERED, UPDATED and LEFT with images, in order, to the document tenant only', async () => {
    const acme = await fromNow('acme', OrderChangedDocument, { filter: { status: ['PENDING', 'CONFIRMED'] } })
    const globex = await fromNow('globex', OrderChangedDocument, {})
    const doc = order()
    await orders.insertOne(doc)
    await orders.updateOne({ _id: doc._id }, { $set: { status: 'confirmed' } })
    await orders.updateOne({ _id: doc._id }, { $set: { status: 'shipped' } })
    await orders.deleteOne({ _id: doc._id })
    const events = await acme.waitFor(3)
    expect(events.map((e) => [e.operationType, e.transition])).toEqual([
      ['INSERT', 'ENTERED'],
      ['UPDATE', 'UPDATED'],
      ['UPDATE', 'LEFT'],
    ])
    expect(events[1].orderBefore?.status).toBe('PENDING')
    expect(events[1].order?.status).toBe('CONFIRMED')
    expect(events[1].updatedFields).toEqual([{ path: 'status', value: 'confirmed' }])
    expect(events[2].order?.status).toBe('SHIPPED')
    expect(events.every((e) => e.documentId === doc._id.toHexString())).toBe(true)
    await settle()
    expect(acme.events).toHaveLength(3)
    expect(globex.events).toHaveLength(0)
  })

  it('filters by total range, region and customer, inclusive bounds', async () => {
    const customer = new ObjectId()
    const c = await fromNow('acme', OrderChangedDocument, {
      filter: { minTotal: 10, maxTotal: 20, region: 'us-east', customerId: customer.toHexString(), operationTypes: ['INSERT'] },
    })
    const match = [order({ totalAmount: 10, region: 'us-east', customerId: customer }), order({ totalAmount: 20, region: 'us-east', customerId: customer })]
    await orders.insertMany([
      match[0],
      order({ totalAmount: 9.99, region: 'us-east', customerId: customer }),
      order({ totalAmount: 15, region: 'eu-west', customerId: customer }),
      order({ totalAmount: 15, region: 'us-east' }),
      match[1],
      order({ totalAmount: 15, region: 'us-east', customerId: customer, tenantId: 'globex' }),
    ])
    const events = await c.waitFor(2)
    await settle()
    expect(c.events.map((e) => e.documentId)).toEqual(match.map((m) => m._id.toHexString()))
    expect(events[0].order?.totalAmount).toBe(10)
  })

  it('statusChangedTo selects updates that set the status, and replaces', async () => {
    const c = await fromNow('acme', OrderChangedDocument, { filter: { statusChangedTo: ['SHIPPED'] } })
    const doc = order()
    await orders.insertOne(doc)
    await orders.updateOne({ _id: doc._id }, { $set: { totalAmount: 5 } })
    await orders.updateOne({ _id: doc._id }, { $set: { status: 'shipped' } })
    const replaced = order({ _id: doc._id, status: 'shipped' })
    await orders.replaceOne({ _id: doc._id }, replaced)
    const events = await c.waitFor(2)
    await settle()
    expect(c.events.map((e) => e.operationType)).toEqual(['UPDATE', 'REPLACE'])
    expect(events[0].order?.status).toBe('SHIPPED')
  })

  it('fieldsChanged selects updates touching a top-level field, including nested paths', async () => {
    const c = await fromNow('acme', OrderChangedDocument, { filter: { fieldsChanged: ['items'] } })
    const doc = order()
    await orders.insertOne(doc)
    await orders.updateOne({ _id: doc._id }, { $set: { region: 'ap-south' } })
    await orders.updateOne({ _id: doc._id }, { $set: { 'items.0.quantity': 3 } })
    await c.waitFor(1)
    await settle()
    expect(c.events).toHaveLength(1)
    expect(c.events[0].updatedFields.map((f) => f.path)).toEqual(['items.0.quantity'])
  })

  it('a tenant change is LEFT without new content for the old tenant and ENTERED without old content for the new one', async () => {
    const acme = await fromNow('acme', OrderChangedDocument, {})
    const globex = await fromNow('globex', OrderChangedDocument, {})
    const doc = order()
    await orders.insertOne(doc)
    await orders.updateOne({ _id: doc._id }, { $set: { tenantId: 'globex', region: 'secret-region' } })
    await acme.waitFor(2)
    const [entered] = await globex.waitFor(1)
    const left = acme.events[1]
    expect(left.transition).toBe('LEFT')
    expect(left.order).toBeNull()
    expect(left.updatedFields).toEqual([])
    expect(entered.transition).toBe('ENTERED')
    expect(entered.orderBefore).toBeNull()
    expect(entered.order?.tenantId).toBe('globex')
  })

  it('rejects bad input with BAD_USER_INPUT and forged cursors with INVALID_CURSOR', async () => {
    const c = await client('acme')
    const bad = collectTyped(c, OrderChangedDocument, { filter: { customerId: 'not-an-id' } })
    const empty = collectTyped(c, OrderChangedDocument, { filter: { status: [] } })
    const forged = collectTyped(c, OrderChangedDocument, { after: 'eyJ2IjoxfQ.AAAA' })
    const blank = collectTyped(c, OrderChangedDocument, { after: '' })
    await Promise.all([bad.completed, empty.completed, forged.completed, blank.completed])
    expect(blank.errors[0]?.extensions?.code).toBe('INVALID_CURSOR')
    expect(bad.errors[0]?.extensions?.code).toBe('BAD_USER_INPUT')
    expect(empty.errors[0]?.extensions?.code).toBe('BAD_USER_INPUT')
    expect(forged.errors[0]?.extensions?.code).toBe('INVALID_CURSOR')
  })

  it('orders() validates its filter like a subscription does', async () => {
    const token = await gw.token('acme')
    const many = await queryTyped(gw.url, token, OrdersDocument, { filter: { status: Array(1000).fill('PENDING') } })
    expect(many.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT')
    const long = await queryTyped(gw.url, token, OrdersDocument, { filter: { region: 'x'.repeat(2000) } })
    expect(long.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT')
  })

  it("another tenant's cursor is INVALID_CURSOR", async () => {
    const globexCursor = await queryTyped(gw.url, await gw.token('globex'), ChangeCursorDocument)
    const c = await fromNow('acme', OrderChangedDocument, { after: globexCursor.body.data!.changeCursor })
    await c.completed
    expect(c.errors[0]?.extensions?.code).toBe('INVALID_CURSOR')
  })
})

describe('cursors', () => {
  it('query, then subscribe after the page cursor: nothing committed after the read is missed', async () => {
    const token = await gw.token('acme')
    await orders.insertOne(order({ region: 'page' }))
    const page = await queryTyped(gw.url, token, OrdersDocument, { filter: { region: 'page' }, first: 10 })
    expect(page.body.data?.orders.nodes).toHaveLength(1)
    const later = [order({ region: 'page' }), order({ region: 'page' })]
    await orders.insertMany(later)
    const c = await fromNow('acme', OrderChangedDocument, { filter: { region: 'page' }, after: page.body.data!.orders.cursor })
    await c.waitFor(2)
    await settle()
    expect(c.events.map((e) => e.documentId)).toEqual(later.map((d) => d._id.toHexString()))
  })

  it('after: catches up while 1,000 writes continue — exactly the matching ones, ordered, once', async () => {
    const token = await gw.token('acme')
    const cursor = (await queryTyped(gw.url, token, ChangeCursorDocument)).body.data!.changeCursor
    const region = `burst-${Date.now()}`
    const written: string[] = []
    const writer = (async () => {
      for (let n = 0; n < 1000; n++) {
        const doc = order({ region: n % 2 === 0 ? region : 'elsewhere', tenantId: n % 5 === 0 ? 'globex' : 'acme' })
        await orders.insertOne(doc)
        if (n % 2 === 0 && n % 5 !== 0) written.push(doc._id.toHexString())
      }
    })()
    await new Promise((r) => setTimeout(r, 200))
    const c = await fromNow('acme', OrderChangedDocument, { filter: { region }, after: cursor })
    await writer
    await c.waitFor(written.length, 30_000)
    await settle()
    expect(c.events.map((e) => e.documentId)).toEqual(written)
  })

  it('continues after an event cursor with no gap and no duplicate', async () => {
    const region = `resume-${Date.now()}`
    const first = await fromNow('acme', OrderChangedDocument, { filter: { region } })
    const docs = Array.from({ length: 6 }, () => order({ region }))
    for (const d of docs.slice(0, 3)) await orders.insertOne(d)
    const seen = await first.waitFor(3)
    first.dispose()
    for (const d of docs.slice(3)) await orders.insertOne(d)
    const second = await fromNow('acme', OrderChangedDocument, { filter: { region }, after: seen[1].cursor })
    await second.waitFor(4)
    await settle()
    expect(second.events.map((e) => e.documentId)).toEqual(docs.slice(2).map((d) => d._id.toHexString()))
  })
})

describe('userProfileUpdated', () => {
  it('delivers profile changes with the fields touched, filtered by user and field', async () => {
    const user = { _id: new ObjectId(), tenantId: 'acme', email: 'a@acme.example', name: 'A', tier: 'standard', profile: {}, preferences: {} }
    await users.insertOne(user)
    const all = await fromNow('acme', UserProfileUpdatedDocument, { filter: { userId: user._id.toHexString() } })
    const tierOnly = await fromNow('acme', UserProfileUpdatedDocument, { filter: { fields: ['TIER'] } })
    await users.updateOne({ _id: user._id }, { $set: { name: 'Ann' } })
    await users.updateOne({ _id: user._id }, { $set: { tier: 'gold', 'profile.locale': 'fr' } })
    const events = await all.waitFor(2)
    await tierOnly.waitFor(1)
    expect(events.map((e) => e.changedFields)).toEqual([['name'], ['profile', 'tier']])
    expect(events[1].user?.tier).toBe('gold')
    expect(tierOnly.events.map((e) => e.user?.tier)).toEqual(['gold'])
  })
})

async function ordersSubscribers() {
  const admin = await gw.token('acme', 'admin')
  const streams = (await queryTyped(gw.url, admin, StreamsDocument)).body.data!.streams
  return streams.find((s) => s.collection === 'orders')?.subscribers ?? 0
}

/** Waits until the orders stream has at least `count` subscribers (each joined, i.e. listening). */
async function subscribersAtLeast(count: number) {
  for (let tries = 0; tries < 200; tries++) {
    if ((await ordersSubscribers()) >= count) return
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`fewer than ${count} subscribers joined`)
}

describe('related documents', () => {
  const batches = async () => {
    const text = await (await fetch(gw.url.replace('/graphql', '/metrics'))).text()
    return Number(/changegate_loader_batches_total\{collection="users"\} (\d+)/.exec(text)?.[1] ?? 0)
  }

  it('Order.customer costs one batched users lookup per event, however many subscribers select it', async () => {
    const customer = { _id: new ObjectId(), tenantId: 'acme', email: 'buyer@acme.example', name: 'Buyer', tier: 'gold', profile: {}, preferences: {} }
    await users.insertOne(customer)
    const base = await ordersSubscribers()
    const subs = await Promise.all(
      Array.from({ length: 10 }, () => fromNow('acme', OrderChangedWithCustomerDocument, { filter: { customerId: customer._id.toHexString() } })),
    )
    await subscribersAtLeast(base + 10)
    const before = await batches()
    const docs = [order({ customerId: customer._id }), order({ customerId: customer._id }), order({ customerId: customer._id })]
    for (const d of docs) await orders.insertOne(d)
    for (const s of subs) await s.waitFor(3)
    expect(subs.flatMap((s) => s.events.map((e) => e.order?.customer?.email))).toEqual(Array(30).fill('buyer@acme.example'))
    expect((await batches()) - before).toBe(3)
  })

  it("never resolves another tenant's customer", async () => {
    const foreign = { _id: new ObjectId(), tenantId: 'globex', email: 'x@globex.example', name: 'X', tier: 'gold', profile: {}, preferences: {} }
    await users.insertOne(foreign)
    const c = await fromNow('acme', OrderChangedWithCustomerDocument, { filter: { customerId: foreign._id.toHexString() } })
    await orders.insertOne(order({ customerId: foreign._id }))
    const [event] = await c.waitFor(1)
    expect(event.order?.customer).toBeNull()
  })
})

describe('explainSubscription', () => {
  const subscription = 'subscription($f: OrderChangeFilter) { orderChanged(filter: $f) { cursor } }'

  const explain = async (tenant: string, f: Record<string, unknown>) =>
    (await queryTyped(gw.url, await gw.token(tenant), ExplainSubscriptionDocument, { query: subscription, variables: { f } })).body.data!
      .explainSubscription

  it('shows the compiled, tenant-bound filter; equivalent filters compile identically', async () => {
    const a = await explain('acme', { status: ['SHIPPED', 'PENDING'], region: 'eu-west' })
    const b = await explain('acme', { region: 'eu-west', status: ['PENDING', 'SHIPPED', 'PENDING'] })
    expect(JSON.stringify(a.pipeline)).toBe(JSON.stringify(b.pipeline))
    expect(a.collection).toBe('orders')
    expect(JSON.stringify(a.pipeline)).toContain('"fullDocument.tenantId":{"$eq":"acme"}')
    const globex = await explain('globex', { region: 'eu-west' })
    expect(JSON.stringify(globex.pipeline)).toContain('"globex"')
    expect(JSON.stringify(globex.pipeline)).not.toContain('"acme"')
  })

  it('shows the shared stream as it runs: its key and its pipeline, the same that `streams` reports for it', async () => {
    const sub = collectTyped(await client('acme'), OrderChangedDocument, { filter: { region: 'explain-stream' } })
    const admin = await gw.token('acme', 'admin')
    const running = async () => (await queryTyped(gw.url, admin, StreamsDocument)).body.data!.streams.find((s) => s.collection === 'orders')
    await expect.poll(async () => (await running())?.subscribers ?? 0).toBeGreaterThanOrEqual(1)
    const plan = await explain('acme', { region: 'explain-stream' })
    const stream = (await running())!
    // One change stream per collection, unfiltered: every tenant's changes are read once and filtered in the gateway.
    expect(plan.streamKey).toBe(`${gw.mongo.db.databaseName}.orders`)
    expect(plan.streamKey).toBe(stream.key)
    expect(plan.streamPipeline).toEqual([])
    expect(plan.streamPipeline).toEqual(stream.pipeline)
    expect(plan.filterRunsIn).toBe('GATEWAY')
    sub.dispose()
  })

  it('shows what a catch-up sends to MongoDB: the filter, or any event that invalidates the collection', async () => {
    const plan = await explain('acme', { status: ['SHIPPED'], minTotal: 5 })
    const conditions = (plan.pipeline as Document[]).map((stage) => stage.$match as Document)
    expect(conditions.length).toBeGreaterThan(0)
    expect(plan.catchUpPipeline).toEqual([
      { $match: { $or: [{ operationType: { $in: ['drop', 'dropDatabase', 'invalidate', 'rename'] } }, { $and: conditions }] } },
    ])
    expect(JSON.stringify(plan.catchUpPipeline)).toContain('"fullDocument.tenantId":{"$eq":"acme"}')
  })

  it('counts the running subscriptions of the same tenant with an equivalent filter in sharedWith', async () => {
    const filter: OrderChangeFilter = { region: 'explain-shared', status: ['PENDING', 'SHIPPED'] }
    const sameInAnotherOrder: OrderChangeFilter = { status: ['SHIPPED', 'PENDING'], region: 'explain-shared' }
    expect((await explain('acme', filter)).sharedWith).toBe(0)
    const acme = await client('acme')
    const subs = [
      collectTyped(acme, OrderChangedDocument, { filter }),
      collectTyped(acme, OrderChangedDocument, { filter: sameInAnotherOrder }),
      collectTyped(acme, OrderChangedDocument, { filter }),
      // Neither of these shares with acme's: another filter, another tenant.
      collectTyped(acme, OrderChangedDocument, { filter: { region: 'explain-shared' } }),
      collectTyped(await client('globex'), OrderChangedDocument, { filter }),
    ]
    await expect.poll(async () => (await explain('acme', filter)).sharedWith).toBe(3)
    expect((await explain('acme', sameInAnotherOrder)).sharedWith).toBe(3)
    expect((await explain('acme', { region: 'explain-shared' })).sharedWith).toBe(1)
    expect((await explain('globex', filter)).sharedWith).toBe(1)
    subs[0].dispose()
    await expect.poll(async () => (await explain('acme', filter)).sharedWith).toBe(2)
    subs.slice(1).forEach((sub) => sub.dispose())
    await expect.poll(async () => (await explain('acme', filter)).sharedWith).toBe(0)
  })

  it('reports invalid filters as BAD_USER_INPUT', async () => {
    const { body } = await queryTyped(gw.url, await gw.token('acme'), ExplainSubscriptionDocument, {
      query: subscription,
      variables: { f: { customerId: 'nope' } },
    })
    expect(body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT')
  })
})

describe('sharing', () => {
  it('50 subscriptions with different filters across two tenants read one change stream cursor on the server', async () => {
    const admin = await gw.token('acme', 'admin')
    const ordersStreams = async () => (await queryTyped(gw.url, admin, StreamsDocument)).body.data!.streams.filter((s) => s.collection === 'orders')
    // Subscriptions of earlier tests may still run: these 50 are live once the stream counts 50 more.
    const before = (await ordersStreams())[0]?.subscribers ?? 0
    const tenants = ['acme', 'globex']
    const clientsOf = { acme: await client('acme'), globex: await client('globex') }
    const subs = Array.from({ length: 50 }, (_, n) => {
      const tenant = tenants[n % 2] as 'acme' | 'globex'
      return { tenant, region: `share-${n}`, sub: collectTyped(clientsOf[tenant], OrderChangedDocument, { filter: { region: `share-${n}` } }) }
    })
    await expect.poll(async () => (await ordersStreams())[0]?.subscribers ?? 0).toBe(before + 50)

    // Counted by MongoDB, not by the gateway: once catch-ups of earlier tests are closed, exactly one change stream
    // cursor reads the collection.
    const ns = `${gw.mongo.db.databaseName}.orders`
    await expect.poll(async () => (await changeStreamCursors(gw.mongo.client, ns)).length, { timeout: 10_000 }).toBe(1)
    const [cursor] = await changeStreamCursors(gw.mongo.client, ns)
    expect(cursor.cursor.originatingCommand.pipeline[0]).toHaveProperty('$changeStream')

    // And that one cursor serves every subscription: each receives its own order, and only it.
    const docs = subs.map(({ tenant, region }) => order({ tenantId: tenant, region }))
    await orders.insertMany(docs)
    for (const [n, { sub }] of subs.entries()) expect((await sub.waitFor(1)).map((e) => e.documentId)).toEqual([docs[n]._id.toHexString()])
    await settle()
    expect(subs.map(({ sub }) => sub.events.length)).toEqual(subs.map(() => 1))
    expect(await changeStreamCursors(gw.mongo.client, ns)).toHaveLength(1)
    const [ordersStream, ...more] = await ordersStreams()
    expect(more).toEqual([])
    expect(ordersStream.state).toBe('RUNNING')
    expect(ordersStream.ownerNode).toBe('test-node')
    subs.forEach(({ sub }) => sub.dispose())
  })

  it('streams is admin-only', async () => {
    const { body } = await queryTyped(gw.url, await gw.token('acme'), StreamsDocument)
    expect(body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN')
  })
})
