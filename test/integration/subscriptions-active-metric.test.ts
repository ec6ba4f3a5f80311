import { ObjectId } from 'mongodb'
import type { Client } from 'graphql-ws'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestGateway, type TestGateway } from '../fixtures/app.js'
import { collect, metricSum, wsClient } from '../fixtures/gateway.js'
import { ackedSocket, type RawSocket } from '../security/support.js'

/**
 * `changegate_subscriptions_active` as `/metrics` shows it: one more per acknowledged subscription, one less
 * however the subscription ends, by the client or by the server (DESIGN §5 codes).
 */

const ORDERS = 'subscription { orderChanged { documentId } }'
const BIG_ORDERS = 'subscription { orderChanged { documentId order { items { productId quantity unitPrice } } } }'
/** ~30 KB per event: a few hundred fill the socket buffers of a reader that stopped reading. */
const ITEMS = Array.from({ length: 100 }, (_, n) => ({ productId: `sku-${n}-${'x'.repeat(270)}`, quantity: n + 1, unitPrice: 9.99 }))
const SLOW_CONSUMER_TIMEOUT_MS = 1000

let gw: TestGateway

/** `changegate_subscriptions_active` summed over its labels, as /metrics shows it. */

const active = () => metricSum(gw.url, 'changegate_subscriptions_active')
let client: Client

const order = () => ({ _id: new ObjectId(), tenantId: 'acme', customerId: new ObjectId(), status: 'pending', totalAmount: 1, items: ITEMS })
const socketOf = (raw: RawSocket) => (raw.socket as unknown as { _socket: { pause(): void; resume(): void } })._socket

beforeAll(async () => {
  gw = await startTestGateway({ env: { CHANGEGATE_SLOW_CONSUMER_TIMEOUT_MS: String(SLOW_CONSUMER_TIMEOUT_MS) } })
  client = wsClient(gw.wsUrl, await gw.token('acme'))
})

afterAll(async () => {
  await client?.dispose()
  await gw?.stop()
})

describe('changegate_subscriptions_active', () => {
  it('counts a subscription while it runs and forgets it when the client completes it', async () => {
    expect(await active()).toBe(0)
    const first = collect(client, ORDERS)
    const second = collect(client, ORDERS)
    await expect.poll(active).toBe(2)
    // Acknowledged and live: a write reaches both.
    await gw.mongo.db.collection('orders').insertOne(order())
    await Promise.all([first.waitFor(1), second.waitFor(1)])
    first.dispose()
    await expect.poll(active).toBe(1)
    second.dispose()
    await expect.poll(active).toBe(0)
  })

  it('forgets a subscription the server ends with STREAM_INVALIDATED when its collection is dropped', async () => {
    const orders = collect(client, ORDERS)
    await expect.poll(active).toBe(1)
    await gw.mongo.db.collection('orders').insertOne(order())
    await orders.waitFor(1)
    await gw.mongo.db.collection('orders').drop()
    await orders.completed
    expect(orders.errors.map((e) => e.extensions?.code)).toEqual(['STREAM_INVALIDATED'])
    await expect.poll(active).toBe(0)
    await gw.mongo.db.createCollection('orders', { changeStreamPreAndPostImages: { enabled: true } })
  })

  it('forgets a subscription the server ends with SLOW_CONSUMER while its reader is paused', async () => {
    const raw = await ackedSocket(gw.wsUrl, await gw.token('acme'))
    raw.send({ id: 's1', type: 'subscribe', payload: { query: BIG_ORDERS } })
    await expect.poll(active).toBe(1)
    socketOf(raw).pause()
    const orders = gw.mongo.db.collection('orders')
    // Writes until the socket buffers are full and events wait in the subscription's queue; past the timeout the
    // server ends it while the client still reads nothing.
    const deadline = Date.now() + 30_000
    while ((await active()) > 0 && Date.now() < deadline) {
      await orders.insertMany(Array.from({ length: 50 }, order))
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    expect(await active()).toBe(0)
    socketOf(raw).resume()
    await raw.frame((f) => f.id === 's1' && f.type === 'complete', 15_000)
    const codes = raw.frames
      .filter((f) => f.id === 's1' && f.type === 'next')
      .flatMap((f) => ((f.payload as { errors?: Array<{ extensions?: { code?: string } }> }).errors ?? []).map((e) => e.extensions?.code))
    expect(codes).toEqual(['SLOW_CONSUMER'])
    raw.socket.close(1000)
    await raw.closed
    expect(await active()).toBe(0)
  })
})
