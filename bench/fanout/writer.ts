/**
 * Writer for the fan-out benchmark: inserts orders at a fixed rate with the official driver, each stamped with
 * `createdAt = Date.now()` just before it is sent. Writes due in the same millisecond go out as one insertMany.
 * Usage (as a worker): writer.ts <mongodb uri>
 */
import { ObjectId } from 'bson'
import { MongoClient, type Document } from 'mongodb'
import { pacedInserts } from '../lib/paced-inserts.js'
import { serveWorker } from '../lib/worker.js'
import { createLayout, customerHex, orderHex, tenantOfCustomer, type Layout } from './layout.js'
import { COLLECTION, DATABASE, type PacedRequest, type PacedResult } from './protocol.js'

const uri = process.argv[2]
if (!uri) throw new Error('usage: writer.ts <mongodb uri>')
const client = new MongoClient(uri)
const orders = client.db(DATABASE).collection(COLLECTION)

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
  return pacedInserts(orders, (seq, now) => order(layout, phase, seq, now), { firstSeq, count, rate, deadlineMs })
}

await client.connect()
serveWorker({
  paced,
  close: () => client.close(),
})
