/**
 * Watcher for the embedded-server benchmark: opens N change streams on one collection with the driver's
 * `watch()`, and records for every insert event on every stream when it arrived.
 * Usage (as a worker): watcher.ts <mongodb uri>
 */
import { MongoClient, type ChangeStream, type ChangeStreamDocument } from 'mongodb'
import { createLoopDelayMonitor } from '../lib/loop-delay.js'
import { createSamples, wallNow } from '../lib/stats.js'
import { serveWorker } from '../lib/worker.js'
import type { OrderDocument } from './documents.js'
import { DATABASE, type CollectRequest, type CollectResult, type WatchRequest } from './protocol.js'

const uri = process.argv[2]
if (!uri) throw new Error('usage: watcher.ts <mongodb uri>')

interface ProbeDocument {
  probe: number
}

type Watched = OrderDocument | ProbeDocument

interface StreamState {
  readonly stream: ChangeStream<Watched>
  /** One flag per orderId (offset by the warm-up count): received at least once. */
  readonly seen: Uint8Array
  distinct: number
  duplicates: number
  /** Most events the driver held for this stream at once (the rest of a getMore batch). */
  maxBuffered: number
  probed: boolean
}

let client: MongoClient | undefined
const states: StreamState[] = []
let latencies = createSamples()
let warmUpLatencies = createSamples()
let commitLatencies = createSamples()
let warmUpCount = 0
let streamErrors = 0
let lastEventAt = 0
/** Events (any stream, warm-up included) since the last `mark` request: what CPU use is divided by. */
let sinceMark = 0
let startedAt = 0
/** This process's event-loop delay since the last `mark`: how late it could have seen an event that had arrived. */
const loopDelay = createLoopDelayMonitor()

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

function onChange(state: StreamState, event: ChangeStreamDocument<Watched>): void {
  const received = wallNow()
  if (event.operationType !== 'insert') return
  const doc = event.fullDocument
  if ('probe' in doc) {
    state.probed = true
    return
  }
  sinceMark++
  if (startedAt === 0) startedAt = received
  lastEventAt = received
  const buffered = state.stream.bufferedCount()
  if (buffered > state.maxBuffered) state.maxBuffered = buffered
  if (doc.orderId < 0) warmUpLatencies.add(received - doc.stampMs)
  else {
    latencies.add(received - doc.stampMs)
    if (event.wallTime) commitLatencies.add(received - event.wallTime.getTime())
  }
  const slot = doc.orderId + warmUpCount
  if (slot < 0 || slot >= state.seen.length || state.seen[slot]) {
    state.duplicates++
    return
  }
  state.seen[slot] = 1
  state.distinct++
}

/** Opens the streams; resolves once every one of them has delivered a probe insert, so all are open on the server. */
async function watch({ collection, streams, warmUp, capacity }: WatchRequest): Promise<number> {
  // Every awaiting getMore holds a connection: the pool must fit all streams, or they wait for each other.
  client = new MongoClient(uri, { maxPoolSize: streams + 8 })
  await client.connect()
  const coll = client.db(DATABASE).collection<Watched>(collection)
  latencies = createSamples(streams * capacity)
  commitLatencies = createSamples(streams * capacity)
  warmUpLatencies = createSamples(streams * warmUp)
  warmUpCount = warmUp
  for (let i = 0; i < streams; i++) {
    const state: StreamState = {
      stream: coll.watch<Watched>(),
      seen: new Uint8Array(warmUp + capacity),
      distinct: 0,
      duplicates: 0,
      maxBuffered: 0,
      probed: false,
    }
    state.stream.on('change', (event) => onChange(state, event))
    state.stream.on('error', () => streamErrors++)
    states.push(state)
  }
  const started = performance.now()
  for (let probe = 0; ; probe++) {
    await coll.insertOne({ probe })
    for (let waited = 0; waited < 500 && !states.every((s) => s.probed); waited += 10) await sleep(10)
    if (states.every((s) => s.probed)) return performance.now() - started
    if (performance.now() - started > 30_000) throw new Error(`only ${states.filter((s) => s.probed).length} of ${streams} streams opened`)
  }
}

/** Waits until every stream has every expected event, or nothing arrived for `idleMs`; then counts. */
async function collect({ expected, idleMs, timeoutMs }: CollectRequest): Promise<CollectResult> {
  const calledAt = wallNow()
  const deadline = calledAt + timeoutMs
  const perStream = warmUpCount + expected
  const complete = () => states.every((s) => s.distinct >= perStream)
  const idle = () => wallNow() - Math.max(lastEventAt, calledAt) >= idleMs
  while (!complete() && !idle() && wallNow() < deadline) await sleep(20)
  let received = 0
  let duplicates = 0
  let lost = 0
  for (const s of states) {
    received += s.distinct
    duplicates += s.duplicates
    for (let slot = 0; slot < perStream; slot++) if (!s.seen[slot]) lost++
  }
  const counts = states.map((s) => s.distinct)
  return {
    streams: states.length,
    expectedPerStream: perStream,
    received,
    lost,
    duplicates,
    minPerStream: Math.min(...counts),
    maxPerStream: Math.max(...counts),
    largestBatch: Math.max(...states.map((s) => s.maxBuffered)) + 1,
    streamErrors,
    eventsSinceMark: sinceMark,
    latencyMs: latencies.summarize(),
    warmUpLatencyMs: warmUpLatencies.summarize(),
    commitLatencyMs: commitLatencies.summarize(),
    seconds: (lastEventAt - startedAt) / 1000,
    loopDelayMs: loopDelay.read(),
  }
}

async function close(): Promise<void> {
  await Promise.all(states.map((s) => s.stream.close().catch(() => undefined)))
  await client?.close()
}

serveWorker({
  watch,
  mark: () => {
    sinceMark = 0
    loopDelay.reset()
  },
  collect,
  close,
})
