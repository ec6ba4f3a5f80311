/**
 * The fan-out benchmark's hand-written baseline: one driver change stream per subscription, each with its own
 * `$match` on `fullDocument.customerId` (stream m watches customer m % customers), all in one process.
 * Usage (as a worker): driver-watch.ts
 */
import { ObjectId } from 'bson'
import { MongoClient, type ChangeStream, type ChangeStreamInsertDocument, type Document } from 'mongodb'
import { serveWorker } from '../lib/worker.js'
import { createLayout, customerHex, decodeOrderHex } from './layout.js'
import { COLLECTION, DATABASE, type CollectRequest, type CollectResult, type WatchRequest } from './protocol.js'
import { createTally, type Tally } from './tally.js'

let client: MongoClient | undefined
let streams: ChangeStream[] = []
let tally: Tally | undefined
let errors = 0

async function watch({ uri, layout: options, streams: count }: WatchRequest): Promise<number> {
  const layout = createLayout(options)
  // Every awaiting getMore holds a connection: the pool must fit all streams, or they wait for each other.
  client = new MongoClient(uri, { maxPoolSize: count + 8 })
  await client.connect()
  const orders = client.db(DATABASE).collection(COLLECTION)
  const customers = new Int32Array(count)
  for (let m = 0; m < count; m++) customers[m] = m % layout.customers
  const t = (tally = createTally(customers, layout.customers))
  for (let m = 0; m < count; m++) {
    const stream = orders.watch([{ $match: { 'fullDocument.customerId': new ObjectId(customerHex(customers[m])) } }])
    stream.on('change', (event) => {
      const receivedAt = Date.now()
      if (event.operationType !== 'insert') return
      const doc = (event as ChangeStreamInsertDocument<Document>).fullDocument
      const id = decodeOrderHex((doc._id as ObjectId).toHexString())
      if (id) t.record(m, id.phase, id.seq, (doc.createdAt as Date).getTime(), receivedAt)
    })
    stream.on('error', () => {
      errors++
      t.end(m, 'STREAM_ERROR')
    })
    streams.push(stream)
  }
  return streams.length
}

async function collect({ phase, writes, idleMs, timeoutMs, windowMs }: CollectRequest): Promise<CollectResult> {
  const result = await tally!.collect(phase, writes, idleMs, timeoutMs, windowMs)
  return { ...result, ended: tally!.ended() }
}

async function close(): Promise<number> {
  await Promise.all(streams.map((s) => s.close().catch(() => undefined)))
  streams = []
  await client?.close()
  return errors
}

serveWorker({ watch, reached: (phase: number) => tally?.reached(phase) ?? 0, collect, close })
