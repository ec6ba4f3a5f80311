import { randomBytes } from 'node:crypto'
import { ObjectId } from 'mongodb'
import { createClient, type Client } from 'graphql-ws'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { startTestGateway, type TestGateway } from '../fixtures/app.js'
import { collectTyped, metricSum, PausableWebSocket, queryTyped } from '../fixtures/gateway.js'
import { ChangeCursorDocument, OrderChangedDocument } from '../fixtures/generated/graphql.js'

/**
 * A collection dropped while a subscriber is still re-reading history (it resumed from an older cursor, and reads
 * slower than the gateway could queue): the re-read goes on up to the drop, so the subscriber receives every change
 * committed before it, in order, and only then STREAM_INVALIDATED (DESIGN §5).
 */

const INSERTS = 200
/** Large, incompressible documents: the subscriber's socket fills long before the history is read. */
const pad = () => randomBytes(48 * 1024).toString('base64')

let gw: TestGateway

/** `changegate_subscriptions_active` summed over its labels, as /metrics shows it. */

const active = () => metricSum(gw.url, 'changegate_subscriptions_active')
let client: Client
let live: Client

beforeAll(async () => {
  // A small queue: the history read waits for the subscriber, as it does for any subscriber far behind.
  gw = await startTestGateway({ env: { CHANGEGATE_SUBSCRIPTION_BUFFER: '16' } })
  const token = await gw.token('acme')
  client = createClient({ url: gw.wsUrl, webSocketImpl: PausableWebSocket, lazy: true, retryAttempts: 0, connectionParams: { authorization: `Bearer ${token}` } })
  live = createClient({ url: gw.wsUrl, webSocketImpl: WebSocket, lazy: true, retryAttempts: 0, connectionParams: { authorization: `Bearer ${token}` } })
})

afterAll(async () => {
  await client?.dispose()
  await live?.dispose()
  await gw?.stop()
})

describe('a collection dropped while a subscriber re-reads history', () => {
  it('delivers every change committed before the drop, then STREAM_INVALIDATED', async () => {
    const token = await gw.token('acme')
    const orders = gw.mongo.db.collection('orders')
    // A live subscriber keeps the collection's stream open, so the resuming one reads history and then joins it.
    const watcher = collectTyped(live, OrderChangedDocument, { filter: {} })
    // Counted means listening.
    await expect.poll(active, { timeout: 10_000 }).toBe(1)
    await orders.insertOne({ _id: new ObjectId(), tenantId: 'acme', customerId: new ObjectId(), status: 'pending', totalAmount: 1, currency: 'EUR', region: 'eu-west', items: [] })
    await watcher.waitFor(1)
    const after = (await queryTyped(gw.url, token, ChangeCursorDocument)).body.data!.changeCursor

    const ids: ObjectId[] = []
    for (let n = 0; n < INSERTS; n++) {
      const _id = new ObjectId()
      ids.push(_id)
      await orders.insertOne({ _id, tenantId: 'acme', customerId: new ObjectId(), status: 'pending', totalAmount: n, currency: 'EUR', region: 'eu-west', items: [], pad: pad() })
    }
    await watcher.waitFor(INSERTS + 1, 60_000)

    const resumed = collectTyped(client, OrderChangedDocument, { filter: {}, after })
    await resumed.waitFor(1, 30_000)
    const socket = PausableWebSocket.opened.at(-1)!
    socket.pause()
    await orders.drop()
    await watcher.completed
    // The drop has reached the gateway while the resumed subscriber is still far behind in history.
    expect(resumed.events.length).toBeLessThan(INSERTS)
    socket.resume()
    await resumed.completed

    expect(resumed.events.map((e) => e.documentId)).toEqual(ids.map((id) => id.toHexString()))
    expect(resumed.errors.map((e) => e.extensions?.code)).toEqual(['STREAM_INVALIDATED'])
  }, 120_000)
})
