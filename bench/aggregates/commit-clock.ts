/**
 * The benchmark's own record of commit times: one driver change stream on the orders (no images), remembering each
 * change's `wallTime` by its cluster time. Receivers report the cluster time their value or event stands for (from its
 * cursor); this turns it into the commit's wall-clock time.
 * Usage (as a worker): commit-clock.ts <mongodb uri>
 */
import { MongoClient, type ChangeStream, type ChangeStreamDocument, type Timestamp } from 'mongodb'
import { COLLECTION, DATABASE } from '../fanout/protocol.js'
import { serveWorker } from '../lib/worker.js'
import { commitKey } from './layout.js'

const uri = process.argv[2]
if (!uri) throw new Error('usage: commit-clock.ts <mongodb uri>')
const client = new MongoClient(uri)
let stream: ChangeStream | undefined
const wallTimes = new Map<number, number>()
let withoutWallTime = 0

let pump: Promise<void> | undefined
let closed = false

function record(event: ChangeStreamDocument): void {
  const time = (event as { clusterTime?: Timestamp }).clusterTime
  const wall = (event as { wallTime?: Date }).wallTime
  if (!time) return
  if (wall) wallTimes.set(commitKey(time.t, time.i), wall.getTime())
  else withoutWallTime++
}

/** Resolves once the stream is open (its first, empty batch came back); it is then read until `close`. */
async function start(): Promise<void> {
  await client.connect()
  const s = (stream = client.db(DATABASE).collection(COLLECTION).watch([]))
  const first = await s.tryNext()
  if (first) record(first)
  pump = (async () => {
    while (!closed) {
      const event = await s.tryNext().catch(() => null)
      if (event) record(event)
    }
  })()
}

/** Wall-clock ms of each commit (NaN when the stream did not see it). */
function lookup(keys: Float64Array): Float64Array {
  const out = new Float64Array(keys.length)
  for (let n = 0; n < keys.length; n++) out[n] = wallTimes.get(keys[n]) ?? Number.NaN
  return out
}

/** Commits seen with a wall time in [from, to]. */
function count({ from, to }: { from: number; to: number }): number {
  let n = 0
  for (const wall of wallTimes.values()) if (wall >= from && wall <= to) n++
  return n
}

/** The latest commit (see `commitKey`) with a wall time in [from, to]; NaN for none. */
function last({ from, to }: { from: number; to: number }): number {
  let latest = Number.NaN
  for (const [key, wall] of wallTimes) if (wall >= from && wall <= to && !(key <= latest)) latest = key
  return latest
}

serveWorker({
  last,
  start,
  lookup,
  count,
  stats: () => ({ commits: wallTimes.size, withoutWallTime }),
  close: async () => {
    closed = true
    await stream?.close()
    await pump
    await client.close()
  },
})
