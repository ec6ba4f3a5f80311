/**
 * Subscriptions over multi-document transactions: every statement of a committed transaction is delivered
 * once and in order (the oracle is an independent driver change stream), an aborted transaction delivers
 * nothing, and a cursor that points into the middle of a transaction resumes with exactly the rest of it.
 */
import { ObjectId, type ChangeStream, type ClientSession, type Collection, type Document } from 'mongodb'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { TypedDocumentNode } from '@graphql-typed-document-node/core'
import type { Client } from 'graphql-ws'
import { startTestGateway, type TestGateway } from '../fixtures/app.js'
import { collectTyped, queryTyped, wsClient } from '../fixtures/gateway.js'
import { ChangeCursorDocument, OrderChangedDocument, UserProfileUpdatedDocument } from '../fixtures/generated/graphql.js'

let gw: TestGateway
let orders: Collection
let users: Collection
const clients: Client[] = []

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

const user = (): Document => ({
  _id: new ObjectId(),
  tenantId: 'acme',
  email: 'u@acme.example',
  name: 'U',
  tier: 'standard',
  profile: {},
  preferences: {},
})

/** Quiet period after the last expected event, to show that nothing more arrives. */
const settle = () => new Promise((r) => setTimeout(r, 300))

async function subscribe<R extends Record<string, unknown>, V extends Record<string, unknown>>(
  tenant: string,
  document: TypedDocumentNode<R, V>,
  variables: V,
) {
  const token = await gw.token(tenant)
  const after = (await queryTyped(gw.url, token, ChangeCursorDocument)).body.data!.changeCursor
  const c = wsClient(gw.wsUrl, token)
  clients.push(c)
  return collectTyped(c, document, { after, ...variables })
}

/** An independent driver change stream over the test database, opened now. */
async function oracle(): Promise<ChangeStream> {
  const stream = gw.mongo.db.watch([{ $match: { 'ns.coll': { $in: ['orders', 'users'] } } }], { maxAwaitTimeMS: 100 })
  await stream.tryNext()
  return stream
}

async function take(stream: ChangeStream, n: number): Promise<Document[]> {
  const events: Document[] = []
  while (events.length < n) events.push(await stream.next())
  return events
}

async function inTransaction(work: (session: ClientSession) => Promise<void>) {
  const session = gw.mongo.client.startSession()
  try {
    await session.withTransaction(() => work(session))
  } finally {
    await session.endSession()
  }
}

beforeAll(async () => {
  gw = await startTestGateway()
  orders = gw.mongo.db.collection('orders')
  users = gw.mongo.db.collection('users')
  // The collections exist before any transaction: MongoDB refuses writes to a collection newer than the snapshot.
  await orders.insertOne(order({ tenantId: 'setup' }))
  await users.insertOne({ ...user(), tenantId: 'setup' })
})

afterAll(async () => {
  await Promise.all(clients.map((c) => c.dispose()))
  await gw?.stop()
})

describe('transactions through subscriptions', () => {
  it('a transaction over several orders and a user is delivered once, in commit order', async () => {
    const region = `txn-${Date.now()}`
    const profile = user()
    await users.insertOne(profile)
    const ordersSub = await subscribe('acme', OrderChangedDocument, { filter: { region } })
    const usersSub = await subscribe('acme', UserProfileUpdatedDocument, { filter: { userId: profile._id.toHexString() } })
    const truth = await oracle()
    const docs = [order({ region }), order({ region }), order({ region })]
    await inTransaction(async (session) => {
      await orders.insertMany(docs, { session })
      await users.updateOne({ _id: profile._id }, { $set: { tier: 'gold' } }, { session })
      await orders.updateOne({ _id: docs[0]._id }, { $set: { status: 'confirmed' } }, { session })
      await orders.deleteOne({ _id: docs[1]._id }, { session })
    })
    const expected = await take(truth, 6)
    await truth.close()
    expect(new Set(expected.map((e) => e.clusterTime.toString())).size).toBe(1)
    const orderTruth = expected.filter((e) => e.ns.coll === 'orders')
    await ordersSub.waitFor(orderTruth.length)
    await usersSub.waitFor(1)
    await settle()
    expect(ordersSub.events.map((e) => [e.operationType, e.documentId])).toEqual(
      orderTruth.map((e) => [e.operationType.toUpperCase(), e.documentKey._id.toHexString()]),
    )
    expect(usersSub.events.map((e) => [e.documentId, e.changedFields])).toEqual([[profile._id.toHexString(), ['tier']]])
    expect(new Set(ordersSub.events.map((e) => e.clusterTime)).size).toBe(1)
  })

  it('an aborted transaction delivers nothing', async () => {
    const region = `abort-${Date.now()}`
    const sub = await subscribe('acme', OrderChangedDocument, { filter: { region } })
    const session = gw.mongo.client.startSession()
    try {
      session.startTransaction()
      await orders.insertMany([order({ region }), order({ region })], { session })
      await session.abortTransaction()
    } finally {
      await session.endSession()
    }
    const marker = order({ region })
    await orders.insertOne(marker)
    await sub.waitFor(1)
    await settle()
    expect(sub.events.map((e) => e.documentId)).toEqual([marker._id.toHexString()])
  })

  it('a tenant move inside a transaction is LEFT for the old tenant and ENTERED for the new one', async () => {
    const region = `move-${Date.now()}`
    const doc = order({ region })
    await orders.insertOne(doc)
    const acme = await subscribe('acme', OrderChangedDocument, { filter: { region } })
    const globex = await subscribe('globex', OrderChangedDocument, { filter: { region } })
    await inTransaction(async (session) => {
      await orders.updateOne({ _id: doc._id }, { $set: { totalAmount: 150 } }, { session })
      await orders.updateOne({ _id: doc._id }, { $set: { tenantId: 'globex' } }, { session })
    })
    await acme.waitFor(2)
    await globex.waitFor(1)
    await settle()
    expect(acme.events.map((e) => e.transition)).toEqual(['UPDATED', 'LEFT'])
    expect(globex.events.map((e) => [e.transition, e.order?.tenantId])).toEqual([['ENTERED', 'globex']])
    expect(globex.events[0].orderBefore).toBeNull()
  })

  it('a cursor pointing into the middle of a committed transaction resumes with exactly the rest', async () => {
    const region = `mid-${Date.now()}`
    const first = await subscribe('acme', OrderChangedDocument, { filter: { region } })
    const docs = Array.from({ length: 5 }, () => order({ region }))
    await inTransaction(async (session) => {
      for (const d of docs) await orders.insertOne(d, { session })
    })
    const seen = await first.waitFor(5)
    first.dispose()
    const token = await gw.token('acme')
    const c = wsClient(gw.wsUrl, token)
    clients.push(c)
    const resumed = collectTyped(c, OrderChangedDocument, { filter: { region }, after: seen[1].cursor })
    await resumed.waitFor(3)
    await settle()
    expect(resumed.events.map((e) => e.documentId)).toEqual(docs.slice(2).map((d) => d._id.toHexString()))
  })
})
