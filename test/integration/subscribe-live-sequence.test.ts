import { ObjectId, type ChangeStream, type ChangeStreamDocument, type Document } from 'mongodb'
import type { Client } from 'graphql-ws'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestGateway, type TestGateway } from '../fixtures/app.js'
import { collectTyped, metricSum, wsClient } from '../fixtures/gateway.js'
import { OrderChangedDocument } from '../fixtures/generated/graphql.js'

/**
 * A subscription WITHOUT `after:` starts live: from the moment the gateway counts it (changegate_subscriptions_active),
 * it receives exactly the changes committed since, in commit order, once each. The reference is an independent
 * change stream opened through the driver before any write.
 */

let gw: TestGateway

/** `changegate_subscriptions_active` summed over its labels, as /metrics shows it. */

const active = () => metricSum(gw.url, 'changegate_subscriptions_active')
let client: Client
let oracle: ChangeStream
const WRITES_AFTER_ACK = 300

const order = (tenantId: string) => ({
  _id: new ObjectId(),
  tenantId,
  customerId: new ObjectId(),
  status: 'pending',
  totalAmount: 1,
  region: 'eu-west',
  items: [],
})

beforeAll(async () => {
  gw = await startTestGateway()
  client = wsClient(gw.wsUrl, await gw.token('acme'))
})

afterAll(async () => {
  await oracle?.close()
  await client?.dispose()
  await gw?.stop()
})

describe('subscribing without after:', () => {
  it('delivers exactly the changes committed after the subscription is acknowledged: in order, none missing, none twice', async () => {
    const orders = gw.mongo.db.collection('orders')
    // The oracle: acme's changes to orders as MongoDB reports them, opened before the first write.
    oracle = orders.watch<Document, ChangeStreamDocument<Document>>(
      [{ $match: { $or: [{ 'fullDocument.tenantId': 'acme' }, { 'fullDocumentBeforeChange.tenantId': 'acme' }] } }],
      { fullDocument: 'whenAvailable', fullDocumentBeforeChange: 'whenAvailable', maxAwaitTimeMS: 100 },
    )
    await oracle.tryNext()

    // A writer that never pauses: inserts, updates and deletes for acme, with globex's changes in between. Each of
    // acme's writes is recorded with the number of the write and a key unique to its change.
    let started = 0
    let stop = false
    const live: ObjectId[] = []
    const acmeWrites: Array<{ n: number; key: string }> = []
    const writer = (async () => {
      while (!stop) {
        const n = ++started
        const step = n % 5
        if (step === 0 && live.length > 0) {
          const _id = live.shift()!
          await orders.deleteOne({ _id })
          acmeWrites.push({ n, key: `DELETE ${_id.toHexString()} -` })
        } else if (step === 2 && live.length > 0) {
          await orders.updateOne({ _id: live[0] }, { $set: { totalAmount: n } })
          acmeWrites.push({ n, key: `UPDATE ${live[0].toHexString()} ${n}` })
        } else if (step === 4) {
          await orders.insertOne(order('globex'))
        } else {
          const doc = { ...order('acme'), totalAmount: n }
          await orders.insertOne(doc)
          live.push(doc._id)
          acmeWrites.push({ n, key: `INSERT ${doc._id.toHexString()} ${n}` })
        }
      }
    })()
    await new Promise((resolve) => setTimeout(resolve, 200))

    const sub = collectTyped(client, OrderChangedDocument, {})
    await expect.poll(active, { interval: 5 }).toBe(1)
    // Every write started from here on commits after the subscription is acknowledged.
    const startedAtAck = started
    while (started < startedAtAck + WRITES_AFTER_ACK) await new Promise((resolve) => setTimeout(resolve, 20))
    stop = true
    await writer

    // MongoDB's sequence of acme's changes, through the last write.
    const expected: string[] = []
    const deadline = Date.now() + 20_000
    while (expected.length < acmeWrites.length && Date.now() < deadline) {
      const change = await oracle.tryNext()
      if (!change || !('documentKey' in change)) continue
      const image = 'fullDocument' in change ? (change.fullDocument as Document | undefined) : undefined
      expected.push(`${change.operationType.toUpperCase()} ${String(change.documentKey._id)} ${change.operationType === 'delete' ? '-' : image?.totalAmount}`)
    }
    // The oracle agrees with the writer: MongoDB committed acme's writes in the order they were made.
    expect(expected).toEqual(acmeWrites.map((w) => w.key))

    const received = () => sub.events.map((e) => `${e.operationType} ${e.documentId} ${e.operationType === 'DELETE' ? '-' : e.order?.totalAmount}`)
    const firstAfterAck = acmeWrites.findIndex((w) => w.n > startedAtAck)
    expect(firstAfterAck).toBeGreaterThanOrEqual(0)
    // What the subscription receives is a tail of that sequence (commit order, no duplicate, no gap) that begins no
    // later than the first change written after the acknowledgement.
    await sub.waitFor(acmeWrites.length - firstAfterAck, 20_000)
    await new Promise((resolve) => setTimeout(resolve, 300))
    const from = expected.indexOf(received()[0])
    expect(from).toBeGreaterThanOrEqual(0)
    expect(from).toBeLessThanOrEqual(firstAfterAck)
    expect(received()).toEqual(expected.slice(from))
    console.log(`live sequence: ${JSON.stringify({ acmeChanges: expected.length, beforeAck: firstAfterAck, received: sub.events.length, skippedBeforeAck: from })}`)
    expect(sub.errors).toEqual([])
    sub.dispose()
  })
})
