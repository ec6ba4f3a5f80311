/**
 * Writer for the fan-out benchmark: inserts orders at a fixed rate with the official driver, each stamped with
 * `createdAt = Date.now()` just before it is sent. Writes due in the same millisecond go out as one insertMany.
 * Usage (as a worker): writer.ts <mongodb uri>
 */
import { ObjectId } from 'bson'
import { MongoClient, type Document } from 'mongodb'
import { serveWorker } from '../lib/worker.js'
import { createLayout, customerHex, orderHex, tenantOfCustomer, type Layout } from './layout.js'
import { COLLECTION, DATABASE, type PacedRequest, type PacedResult } from './protocol.js'

const uri = process.argv[2]
if (!uri) throw new Error('usage: writer.ts <mongodb uri>')
const client = new MongoClient(uri)
const orders = client.db(DATABASE).collection(COLLECTION)

/** Batches in flight at once; past it the writer falls behind its schedule (reported as lag). */
const MAX_IN_FLIGHT = 64
const MAX_BATCH = 256

function order(layout: Layout, phase: number, seq: number, now: number): Document {
  const customer = seq % layout.customers
  const at = new Date(now)
  return {
    _id: new ObjectId(orderHex(phase, seq)),
    tenantId: layout.tenants[tenantOfCustomer(layout, customer)],
    customerId: new ObjectId(customerHex(customer)),
    status: 'pending',
    totalAmount: 10 + (seq % 90),
    currency: 'EUR',
    region: 'eu-west',
    items: [{ productId: `p-${seq % 50}`, quantity: 1 + (seq % 3), unitPrice: 10 }],
    createdAt: at,
    updatedAt: at,
  }
}

function paced({ layout: options, phase, firstSeq, count, rate, deadlineMs }: PacedRequest): Promise<PacedResult> {
  const layout = createLayout(options)
  let sent = 0
  let failed = 0
  let inFlight = 0
  let maxLagMs = 0
  const start = performance.now()
  const startedAt = Date.now()
  return new Promise((resolve) => {
    let stopped = false
    let done = false
    const finish = () => {
      if (done) return
      done = true
      resolve({ sent, failed, startedAt, endedAt: Date.now(), maxLagMs })
    }
    const send = (n: number) => {
      const now = Date.now()
      const docs: Document[] = []
      for (let i = 0; i < n; i++) docs.push(order(layout, phase, firstSeq + sent + i, now))
      maxLagMs = Math.max(maxLagMs, performance.now() - (start + (sent * 1000) / rate))
      sent += n
      inFlight++
      const write = n === 1 ? orders.insertOne(docs[0]) : orders.insertMany(docs, { ordered: true })
      write
        .catch(() => (failed += n))
        .finally(() => {
          inFlight--
          if ((sent === count || stopped) && inFlight === 0) finish()
        })
    }
    const tick = () => {
      const now = performance.now()
      const due = Math.min(count, Math.floor(((now - start) * rate) / 1000) + 1)
      if (deadlineMs !== undefined && now - start > deadlineMs) {
        stopped = true
        if (inFlight === 0) finish()
        return
      }
      while (sent < due && inFlight < MAX_IN_FLIGHT) send(Math.min(MAX_BATCH, due - sent))
      if (sent < count) setTimeout(tick, 1)
    }
    if (count === 0) finish()
    else tick()
  })
}

await client.connect()
serveWorker({
  paced,
  close: () => client.close(),
})
