import { randomBytes } from 'node:crypto'
import { ObjectId, type Db } from 'mongodb'
import { createClient, type Client } from 'graphql-ws'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { startTestGateway, type TestGateway } from '../fixtures/app.js'
import { type Collector, collectTyped, metricSum, PausableWebSocket } from '../fixtures/gateway.js'
import { OrderChangedDocument } from '../fixtures/generated/graphql.js'

/**
 * A collection dropped while a subscriber that reads slowly still has events queued on the gateway: it must
 * receive every event committed before the drop, in order, and only then STREAM_INVALIDATED (DESIGN §5). The
 * events are large enough that most of them wait in the gateway's queue, not in the sockets' buffers.
 */

const UPDATES = 240
/** A different, incompressible value per update: an update event carries only the fields that changed. */
const pad = () => randomBytes(48 * 1024).toString('base64')

let gw: TestGateway

/** `changegate_subscriptions_active` summed over its labels, as /metrics shows it. */

const active = () => metricSum(gw.url, 'changegate_subscriptions_active')
let db: Db
let slowClient: Client
let fastClient: Client

function clientOf(webSocketImpl: unknown, token: string): Client {
  return createClient({
    url: gw.wsUrl,
    webSocketImpl,
    lazy: true,
    retryAttempts: 0,
    connectionParams: { authorization: `Bearer ${token}` },
  })
}

beforeAll(async () => {
  gw = await startTestGateway()
  db = gw.mongo.db
  const token = await gw.token('acme')
  slowClient = clientOf(PausableWebSocket, token)
  fastClient = clientOf(WebSocket, token)
})

afterAll(async () => {
  await slowClient?.dispose()
  await fastClient?.dispose()
  await gw?.stop()
})

const seqOf = (event: { updatedFields: Array<{ path: string; value?: unknown }> }) =>
  event.updatedFields.find((f) => f.path === 'seq')?.value

describe('a collection dropped while a slow subscriber has events queued', () => {
  it('delivers every event committed before the drop, then STREAM_INVALIDATED', async () => {
    expect.assertions(8)
    const _id = new ObjectId()
    const slow = collectTyped(slowClient, OrderChangedDocument, { filter: {} })
    const fast = collectTyped(fastClient, OrderChangedDocument, { filter: {} })
    // Counted means listening: every change committed from here on is delivered live.
    await expect.poll(active, { timeout: 10_000 }).toBe(2)
    await db.collection('orders').insertOne({ _id, tenantId: 'acme', customerId: new ObjectId(), status: 'pending', totalAmount: 1, currency: 'EUR', region: 'eu-west', items: [] })
    await Promise.all([slow.waitFor(1), fast.waitFor(1)])

    const socket = PausableWebSocket.opened.at(-1)!
    socket.pause()
    for (let seq = 1; seq <= UPDATES; seq++) await db.collection('orders').updateOne({ _id }, { $set: { seq, pad: pad() } })
    await db.collection('orders').drop()

    // The fast reader seeing the end means the gateway has ended the slow one's subscription too; both are
    // released at once, although the slow one's events are still waiting to be read.
    await fast.completed
    await expect.poll(active, { timeout: 10_000 }).toBe(0)
    socket.resume()
    await slow.completed

    const expected = Array.from({ length: UPDATES }, (_, i) => i + 1)
    for (const collector of [fast, slow] as Array<Collector<{ updatedFields: Array<{ path: string; value?: unknown }> }>>) {
      expect(collector.events.slice(1).map(seqOf)).toEqual(expected)
      expect(collector.errors.map((e) => e.extensions?.code)).toEqual(['STREAM_INVALIDATED'])
    }
    // Nothing else: the insert and each update, once.
    expect(slow.events.length).toBe(UPDATES + 1)
    expect(await db.listCollections({ name: 'orders' }).hasNext()).toBe(false)
  })
})
