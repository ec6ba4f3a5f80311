import { ObjectId, type Document } from 'mongodb'
import { afterEach, describe, expect, it } from 'vitest'
import type { Client } from 'graphql-ws'
import { startTestGateway, type TestGateway } from '../fixtures/app.js'
import { changeStreamCursors } from '../fixtures/current-op.js'
import { collectTyped, queryTyped, wsClient } from '../fixtures/gateway.js'
import { ChangeCursorDocument, OrderChangedDocument, StreamsDocument } from '../fixtures/generated/graphql.js'
import { describeEmbeddedOnly } from '../fixtures/mongo.js'

let gw: TestGateway | undefined
const clients: Client[] = []

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.dispose()))
  await gw?.stop()
  gw = undefined
})

const order = (region: string): Document => ({
  _id: new ObjectId(),
  tenantId: 'acme',
  customerId: new ObjectId(),
  status: 'pending',
  totalAmount: 10,
  region,
  items: [],
})

async function subscribeFromNow(g: TestGateway, variables: Record<string, unknown>) {
  const token = await g.token('acme')
  const after = (await queryTyped(g.url, token, ChangeCursorDocument)).body.data!.changeCursor
  const client = wsClient(g.wsUrl, token)
  clients.push(client)
  return collectTyped(client, OrderChangedDocument, { after, ...variables })
}

describe('resumable errors', () => {
  it('a getMore failing with a resumable error is resumed from the last position: nothing lost, nothing twice', async () => {
    gw = await startTestGateway()
    const orders = gw.mongo.db.collection('orders')
    const c = await subscribeFromNow(gw, { filter: { region: 'resume' } })
    const docs = Array.from({ length: 40 }, () => order('resume'))
    await orders.insertMany(docs.slice(0, 20))
    await c.waitFor(20)
    // The failpoint must hit the shared stream's getMore: wait until the subscription's catch-up is closed and one
    // change stream cursor is left on the server.
    const ns = `${gw.mongo.db.databaseName}.orders`
    const cursorIds = async () => (await changeStreamCursors(gw!.mongo.client, ns)).map((op) => String(op.cursor.cursorId))
    await expect.poll(async () => (await cursorIds()).length, { timeout: 10_000 }).toBe(1)
    const [before] = await cursorIds()
    await gw.mongo.client.db('admin').command({
      configureFailPoint: 'failCommand',
      mode: { times: 1 },
      data: { failCommands: ['getMore'], errorCode: 10107, errorLabels: ['ResumableChangeStreamError'] },
    })
    for (const d of docs.slice(20)) await orders.insertOne(d)
    await c.waitFor(40)
    await new Promise((r) => setTimeout(r, 300))
    expect(c.events.map((e) => e.documentId)).toEqual(docs.map((d) => d._id.toHexString()))
    expect(c.errors).toEqual([])
    // It did resume: the failed cursor is gone and MongoDB serves the stream through a new one (a second aggregate).
    const after = await cursorIds()
    expect(after).toHaveLength(1)
    expect(after[0]).not.toBe(before)
  })
})

describe('bursts beyond the subscription buffer', () => {
  it('a subscriber that falls behind re-reads history and still gets every event once, in order', async () => {
    gw = await startTestGateway({ env: { CHANGEGATE_SUBSCRIPTION_BUFFER: '16' } })
    const orders = gw.mongo.db.collection('orders')
    const c = await subscribeFromNow(gw, { filter: { region: 'burst' } })
    const docs = Array.from({ length: 2000 }, (_, n) => order(n % 4 === 0 ? 'other' : 'burst'))
    for (let n = 0; n < docs.length; n += 250) await orders.insertMany(docs.slice(n, n + 250))
    const expected = docs.filter((d) => d.region === 'burst').map((d) => d._id.toHexString())
    await c.waitFor(expected.length, 60_000)
    await new Promise((r) => setTimeout(r, 300))
    expect(c.events.map((e) => e.documentId)).toEqual(expected)
    expect(c.errors).toEqual([])
  })
})

describeEmbeddedOnly('embedded-only faults', () => {
  it('primary step-down mid-burst: every event exactly once, in order', async () => {
    gw = await startTestGateway()
    const orders = gw.mongo.db.collection('orders')
    const c = await subscribeFromNow(gw, { filter: { region: 'stepdown' } })
    const docs = Array.from({ length: 300 }, () => order('stepdown'))
    const writer = (async () => {
      for (const [n, d] of docs.entries()) {
        await orders.insertOne(d)
        if (n === 100 || n === 200) gw!.mongo.embedded!.stepDown()
      }
    })()
    await writer
    await c.waitFor(300, 30_000)
    await new Promise((r) => setTimeout(r, 300))
    expect(c.events.map((e) => e.documentId)).toEqual(docs.map((d) => d._id.toHexString()))
    const admin = await gw.token('acme', 'admin')
    const streams = (await queryTyped(gw.url, admin, StreamsDocument)).body.data!.streams
    expect(streams.find((s) => s.collection === 'orders')?.state).toBe('RUNNING')
  })

  it('a cursor older than the retained history fails with CURSOR_EXPIRED, never jumping to now', async () => {
    gw = await startTestGateway({ oplogMaxEntries: 50 })
    const orders = gw.mongo.db.collection('orders')
    const token = await gw.token('acme')
    const old = (await queryTyped(gw.url, token, ChangeCursorDocument)).body.data!.changeCursor
    await orders.insertMany(Array.from({ length: 200 }, () => order('expired')))
    const client = wsClient(gw.wsUrl, token)
    clients.push(client)
    // A live subscriber first, so the shared stream is positioned after the lost history.
    const live = collectTyped(client, OrderChangedDocument, { filter: { region: 'nothing' } })
    await new Promise((r) => setTimeout(r, 300))
    const c = collectTyped(client, OrderChangedDocument, { after: old })
    await c.completed
    expect(c.events).toEqual([])
    expect(c.errors[0]?.extensions?.code).toBe('CURSOR_EXPIRED')
    live.dispose()
  })
})

describe('invalidation', () => {
  it('dropping the collection ends subscriptions with STREAM_INVALIDATED, and new ones work after it is recreated', async () => {
    gw = await startTestGateway()
    const db = gw.mongo.db
    const c = await subscribeFromNow(gw, {})
    await db.collection('orders').insertOne(order('before-drop'))
    await c.waitFor(1)
    await db.collection('orders').drop()
    await c.completed
    expect(c.errors.map((e) => e.extensions?.code)).toEqual(['STREAM_INVALIDATED'])
    await db.createCollection('orders', { changeStreamPreAndPostImages: { enabled: true } })
    const again = await subscribeFromNow(gw, {})
    const doc = order('after-drop')
    await db.collection('orders').insertOne(doc)
    const [event] = await again.waitFor(1)
    expect(event.documentId).toBe(doc._id.toHexString())
  })
})
