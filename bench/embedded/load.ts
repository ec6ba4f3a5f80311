/**
 * Load generator for the embedded-server benchmark: one driver client, and a request per measurement.
 * Usage (as a worker): load.ts <mongodb uri>
 */
import { BSON, ObjectId } from 'bson'
import { MongoClient } from 'mongodb'
import { createLoopDelayMonitor } from '../lib/loop-delay.js'
import { createSamples, wallNow, type Samples } from '../lib/stats.js'
import { serveWorker } from '../lib/worker.js'
import { orderDocument, type OrderDocument } from './documents.js'
import {
  DATABASE,
  type BsonRequest,
  type InsertManyRequest,
  type InsertOneRequest,
  type InsertOneResult,
  type PacedWriteRequest,
  type PacedWriteResult,
  type RunResult,
} from './protocol.js'

const uri = process.argv[2]
if (!uri) throw new Error('usage: load.ts <mongodb uri>')
const client = new MongoClient(uri)
const db = client.db(DATABASE)
let nextOrderId = 1_000_000
const loopDelay = createLoopDelayMonitor()

const elapsedSince = (start: number) => (performance.now() - start) / 1000

/** In-process serialize + deserialize of the documents insertMany would send: a ceiling for insertMany. */
function bson({ total }: BsonRequest): RunResult {
  const docs: OrderDocument[] = []
  for (let i = 0; i < total; i++) docs.push({ _id: new ObjectId(), ...orderDocument(i, wallNow()) })
  const start = performance.now()
  let intact = 0
  for (const doc of docs) intact += BSON.deserialize(BSON.serialize(doc)).orderId === doc.orderId ? 1 : 0
  const seconds = elapsedSince(start)
  if (intact !== total) throw new Error('bson round trip changed the documents')
  return { ops: total, seconds, perSecond: total / seconds }
}

async function insertMany({ collection, total, batchSize }: InsertManyRequest): Promise<RunResult> {
  const batches: OrderDocument[][] = []
  for (let i = 0; i < total; i += batchSize) {
    const batch: OrderDocument[] = []
    for (let j = i; j < Math.min(total, i + batchSize); j++) batch.push(orderDocument(nextOrderId++, wallNow()))
    batches.push(batch)
  }
  const coll = db.collection<OrderDocument>(collection)
  const roundTrips = createSamples(batches.length)
  const start = performance.now()
  let inserted = 0
  for (const batch of batches) {
    const sent = performance.now()
    inserted += (await coll.insertMany(batch)).insertedCount
    roundTrips.add(performance.now() - sent)
  }
  const seconds = elapsedSince(start)
  if (inserted !== total) throw new Error(`insertMany inserted ${inserted} of ${total}`)
  return { ops: inserted, seconds, perSecond: inserted / seconds, roundTripMs: roundTrips.summarize() }
}

/** Runs `op` back to back (each awaited before the next) for `seconds`, adding each round trip to `roundTrips`. */
async function sequential(seconds: number, op: () => Promise<unknown>, roundTrips: Samples): Promise<number> {
  const start = performance.now()
  const end = start + seconds * 1000
  let now = start
  while (now < end) {
    await op()
    const done = performance.now()
    roundTrips.add(done - now)
    now = done
  }
  return elapsedSince(start)
}

/**
 * insertOne against its protocol floor, ping, both sequential from this one client: after a warm-up, `rounds`
 * alternating slices of `seconds / rounds` each, so both see the same machine load.
 */
async function insertOneVsPing({ seconds, rounds, collection }: InsertOneRequest): Promise<InsertOneResult> {
  const coll = db.collection<OrderDocument>(collection)
  const ping = () => db.command({ ping: 1 })
  const insertOne = () => coll.insertOne(orderDocument(nextOrderId++, wallNow()))
  const warmUp = createSamples()
  await sequential(0.5, ping, warmUp)
  await sequential(0.5, insertOne, warmUp)
  const pings = createSamples(64 * 1024)
  const inserts = createSamples(64 * 1024)
  let pingSeconds = 0
  let insertSeconds = 0
  for (let round = 0; round < rounds; round++) {
    pingSeconds += await sequential(seconds / rounds, ping, pings)
    insertSeconds += await sequential(seconds / rounds, insertOne, inserts)
  }
  const result = (samples: Samples, elapsed: number): RunResult => ({
    ops: samples.length,
    seconds: elapsed,
    perSecond: samples.length / elapsed,
    roundTripMs: samples.summarize(),
  })
  return { ping: result(pings, pingSeconds), insertOne: result(inserts, insertSeconds) }
}

/**
 * Inserts at a fixed rate on an open-loop schedule (insert i is due at start + i / rate), stamping each document
 * just before it is sent. orderId runs from firstOrderId, rate * seconds of them.
 */
async function pacedWrite({ collection, firstOrderId, rate, seconds, maxInFlight }: PacedWriteRequest): Promise<PacedWriteResult> {
  const coll = db.collection<OrderDocument>(collection)
  const total = Math.round(rate * seconds)
  const roundTrips = createSamples(total)
  let sent = 0
  let acknowledged = 0
  let failed = 0
  let inFlight = 0
  let maxLagMs = 0
  loopDelay.reset()
  const start = performance.now()
  await new Promise<void>((resolve) => {
    const send = () => {
      const index = sent++
      inFlight++
      const doc = orderDocument(firstOrderId + index, wallNow())
      const at = performance.now()
      maxLagMs = Math.max(maxLagMs, at - (start + (index * 1000) / rate))
      coll.insertOne(doc).then(
        () => {
          acknowledged++
          roundTrips.add(performance.now() - at)
        },
        () => failed++,
      ).finally(() => {
        inFlight--
        if (sent === total && inFlight === 0) resolve()
      })
    }
    const tick = () => {
      const due = Math.min(total, Math.floor(((performance.now() - start) * rate) / 1000) + 1)
      while (sent < due && inFlight < maxInFlight) send()
      if (sent < total) setTimeout(tick, 1)
    }
    tick()
  })
  const elapsed = elapsedSince(start)
  return {
    ops: sent,
    seconds: elapsed,
    perSecond: sent / elapsed,
    acknowledged,
    failed,
    maxLagMs,
    roundTripMs: roundTrips.summarize(),
    loopDelayMs: loopDelay.read(),
  }
}

await client.connect()
serveWorker({
  bson,
  insertMany,
  insertOneVsPing,
  pacedWrite,
  dropCollection: (name: string) => db.collection(name).drop().catch(() => false),
  close: () => client.close(),
})
