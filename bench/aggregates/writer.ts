/**
 * Writer for the live aggregates benchmark: a mix of inserts (40 %), updates (40 %: status, sometimes amount,
 * currency or region) and deletes (20 %) of orders over two tenants and `regions` regions each, at a fixed rate on an
 * open-loop schedule with the official driver. Writes due in the same millisecond go out as one ordered bulkWrite.
 * Usage (as a worker): writer.ts <mongodb uri>
 */
import { ObjectId } from 'bson'
import { MongoClient, MongoServerError, type AnyBulkWriteOperation, type Document } from 'mongodb'
import { COLLECTION, DATABASE } from '../fanout/protocol.js'
import { serveWorker } from '../lib/worker.js'
import { regionName, TENANTS } from './layout.js'

const uri = process.argv[2]
if (!uri) throw new Error('usage: writer.ts <mongodb uri>')
const client = new MongoClient(uri)
const db = client.db(DATABASE)
const orders = db.collection(COLLECTION)

const STATUSES = ['pending', 'confirmed', 'shipped', 'delivered', 'cancelled', 'returned'] as const
const CURRENCIES = ['EUR', 'USD'] as const
const MAX_IN_FLIGHT = 64
const MAX_BATCH = 256

let random = 2463534242
/** xorshift32: the same writes on every run. */
function next(n: number): number {
  random ^= random << 13
  random ^= random >>> 17
  random ^= random << 5
  return (random >>> 0) % n
}
const amount = () => Math.round(1_000 + next(9_000) + next(100) / 7) / 100

/** Ids of the orders that exist (as far as the writes sent so far go). */
const live: ObjectId[] = []
let regions = 1

function order(now: Date): Document {
  return {
    _id: new ObjectId(),
    tenantId: TENANTS[next(TENANTS.length)],
    customerId: new ObjectId(),
    status: STATUSES[next(STATUSES.length)],
    totalAmount: amount(),
    currency: CURRENCIES[next(CURRENCIES.length)],
    region: regionName(next(regions)),
    items: [],
    createdAt: now,
    updatedAt: now,
  }
}

function operation(now: Date): AnyBulkWriteOperation {
  const roll = live.length < 100 ? 0 : next(10)
  if (roll < 4) {
    const doc = order(now)
    live.push(doc._id as ObjectId)
    return { insertOne: { document: doc } }
  }
  const at = next(live.length)
  const id = live[at]
  if (roll < 8) {
    const set: Document = { status: STATUSES[next(STATUSES.length)], updatedAt: now }
    if (next(2) === 0) set.totalAmount = amount()
    if (next(4) === 0) set.currency = CURRENCIES[next(CURRENCIES.length)]
    if (next(8) === 0) set.region = regionName(next(regions))
    return { updateOne: { filter: { _id: id }, update: { $set: set } } }
  }
  live[at] = live[live.length - 1]
  live.pop()
  return { deleteOne: { filter: { _id: id } } }
}

/** Creates the collection recording pre- and post-images (as the gateway would) and inserts `count` orders. */
async function seed({ count, regions: r }: { count: number; regions: number }): Promise<number> {
  regions = r
  try {
    await db.createCollection(COLLECTION, { changeStreamPreAndPostImages: { enabled: true } })
  } catch (error) {
    if (!(error instanceof MongoServerError && error.code === 48)) throw error
  }
  for (let done = 0; done < count; ) {
    const docs = Array.from({ length: Math.min(1_000, count - done) }, () => order(new Date()))
    await orders.insertMany(docs)
    live.push(...docs.map((d) => d._id as ObjectId))
    done += docs.length
  }
  return live.length
}

export interface MixedRequest {
  readonly count: number
  readonly rate: number
  /** Send nothing more this long after the start. */
  readonly deadlineMs: number
}

export interface MixedResult {
  readonly sent: number
  readonly failed: number
  /** Changes MongoDB reported: inserted + modified + deleted (an update or delete can miss a document already gone). */
  readonly changes: number
  /** Epoch ms at the first and after the last write. */
  readonly startedAt: number
  readonly endedAt: number
  /** How late, at worst, a write left against its schedule. */
  readonly maxLagMs: number
}

function mixed({ count, rate, deadlineMs }: MixedRequest): Promise<MixedResult> {
  let sent = 0
  let failed = 0
  let changes = 0
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
      resolve({ sent, failed, changes, startedAt, endedAt: Date.now(), maxLagMs })
    }
    const send = (n: number) => {
      const now = new Date()
      const ops = Array.from({ length: n }, () => operation(now))
      maxLagMs = Math.max(maxLagMs, performance.now() - (start + (sent * 1000) / rate))
      sent += n
      inFlight++
      orders
        .bulkWrite(ops, { ordered: true })
        .then((r) => (changes += r.insertedCount + r.modifiedCount + r.deletedCount))
        .catch(() => (failed += n))
        .finally(() => {
          inFlight--
          if ((sent === count || stopped) && inFlight === 0) finish()
        })
    }
    const tick = () => {
      const now = performance.now()
      if (now - start > deadlineMs) {
        stopped = true
        if (inFlight === 0) finish()
        return
      }
      const due = Math.min(count, Math.floor(((now - start) * rate) / 1000) + 1)
      while (sent < due && inFlight < MAX_IN_FLIGHT) send(Math.min(MAX_BATCH, due - sent))
      if (sent < count) setTimeout(tick, 1)
    }
    if (count === 0) finish()
    else tick()
  })
}

await client.connect()
serveWorker({ seed, mixed, close: () => client.close() })
