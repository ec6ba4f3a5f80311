import { ObjectId, type Db, type Document } from 'mongodb'
import type { Client } from 'graphql-ws'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestGateway, type TestGateway } from '../fixtures/app.js'
import { collectTyped, queryTyped, wsClient, type Collector } from '../fixtures/gateway.js'
import { ChangeCursorDocument, OrderChangedDocument, UserProfileUpdatedDocument } from '../fixtures/generated/graphql.js'

/**
 * A cursor taken before its collection was dropped or renamed: the catch-up must end the subscription with
 * STREAM_INVALIDATED (DESIGN §5), promptly, without starving the node's other subscriptions.
 */

let gw: TestGateway
let db: Db
let client: Client
let token: string
let users: Collector<unknown>
const userId = new ObjectId()

const order = (): Document => ({
  _id: new ObjectId(),
  tenantId: 'acme',
  customerId: new ObjectId(),
  status: 'pending',
  totalAmount: 10,
  currency: 'EUR',
  region: 'eu-west',
  items: [],
})

const cursorNow = async () => (await queryTyped(gw.url, token, ChangeCursorDocument)).body.data!.changeCursor

async function waitForError(collector: Collector<unknown>, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs
  while (collector.errors.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10))
  return collector.errors
}

/** A write to the node's other stream reaches its subscriber quickly: the node is not frozen. */
async function otherStreamLatency(): Promise<number> {
  const before = users.events.length
  const started = Date.now()
  await db.collection('users').updateOne({ _id: userId }, { $set: { name: `n${started}` } })
  await users.waitFor(before + 1, 5000)
  return Date.now() - started
}

beforeAll(async () => {
  gw = await startTestGateway()
  db = gw.mongo.db
  token = await gw.token('acme')
  client = wsClient(gw.wsUrl, token)
  await db.collection('users').insertOne({ _id: userId, tenantId: 'acme', email: 'a@example.com', name: 'A', tier: 'gold' })
  users = collectTyped(client, UserProfileUpdatedDocument, { filter: { userId: userId.toHexString() }, after: await cursorNow() })
})

afterAll(async () => {
  await client?.dispose()
  await gw?.stop()
})

const recreate = (name: string) => db.createCollection(name, { changeStreamPreAndPostImages: { enabled: true } })

describe.each([
  ['dropped', async () => void (await db.collection('orders').drop())],
  ['renamed', async () => void (await db.collection('orders').rename(`orders_old_${Date.now()}`))],
  [
    'dropped and recreated',
    async () => {
      await db.collection('orders').drop()
      await recreate('orders')
      await db.collection('orders').insertOne(order())
    },
  ],
])('a cursor from before the collection was %s', (_name, invalidate) => {
  it('ends the subscription with STREAM_INVALIDATED within a second, and the node keeps serving', async () => {
    expect.assertions(4)
    const after = await cursorNow()
    await db.collection('orders').insertOne(order())
    await invalidate()
    const started = Date.now()
    const orders = collectTyped(client, OrderChangedDocument, { filter: {}, after })
    const errors = await waitForError(orders as Collector<unknown>, 5000)
    expect(errors.map((e) => e.extensions?.code)).toEqual(['STREAM_INVALIDATED'])
    expect(Date.now() - started).toBeLessThan(1000)
    // The event before the invalidation was delivered first, exactly once.
    expect(orders.events.map((e) => e.operationType)).toEqual(['INSERT'])
    expect(await otherStreamLatency()).toBeLessThan(1000)
    if (!(await db.listCollections({ name: 'orders' }).hasNext())) await recreate('orders')
  })
})
