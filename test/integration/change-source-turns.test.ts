/**
 * A change stream's batch is handed out by the driver without event-loop turns between its events. However large
 * the backlog the gateway reads, timers and sockets still get their turns while it is dispatched.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createChangeSource } from '../../src/mongo/change-source.js'
import { startMongo, type MongoTarget } from '../fixtures/mongo.js'

const EVENTS = 600
/** Work per event, as a heavy dispatch would do: a batch of 64 events holds the loop ~190 ms if nothing yields. */
const WORK_MS = 3

const spin = (ms: number) => {
  const until = performance.now() + ms
  while (performance.now() < until) {
    // busy, as synchronous dispatch work is
  }
}

describe('reading a backlog of changes', () => {
  let mongo: MongoTarget
  beforeAll(async () => {
    mongo = await startMongo()
  })
  afterAll(async () => {
    await mongo?.stop()
  })

  it('gives timers a turn at least every ~40 ms of dispatch work, in order and without loss', async () => {
    const collection = mongo.db.collection('backlog')
    await collection.insertOne({ warmUp: true })
    const seen: number[] = []
    /** Events dispatched since the timer last ran, and the most it ever waited for. */
    let sinceTick = 0
    let mostBetweenTicks = 0
    let done!: () => void
    const all = new Promise<void>((resolve) => (done = resolve))
    const source = createChangeSource({
      collection,
      pipeline: [{ $match: { operationType: 'insert', 'fullDocument.n': { $exists: true } } }],
      onEvent: (event) => {
        spin(WORK_MS)
        sinceTick++
        mostBetweenTicks = Math.max(mostBetweenTicks, sinceTick)
        seen.push((event as { fullDocument: { n: number } }).fullDocument.n)
        if (seen.length === EVENTS) done()
      },
    })
    try {
      await source.ready
      await collection.insertMany(Array.from({ length: EVENTS }, (_, n) => ({ n })))
      // A 5 ms timer while the backlog is dispatched: how much dispatch work ran between two of its turns.
      const ticker = setInterval(() => (sinceTick = 0), 5)
      await all
      clearInterval(ticker)
      expect(seen).toEqual(Array.from({ length: EVENTS }, (_, n) => n))
      // A ~40 ms slice is ~14 events of 3 ms (fewer when the machine is busy: the slice is wall time); without
      // slices a whole batch (64 events, 451 ms here) ran between two turns. Counted in events, not milliseconds:
      // a test process waiting for a CPU on a loaded machine lengthens waits, not slices.
      expect(mostBetweenTicks, `${mostBetweenTicks} events between two timer turns`).toBeLessThanOrEqual(20)
    } finally {
      await source.stop()
    }
  })
})
