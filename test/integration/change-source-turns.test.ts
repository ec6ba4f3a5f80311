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
    let done!: () => void
    const all = new Promise<void>((resolve) => (done = resolve))
    const source = createChangeSource({
      collection,
      pipeline: [{ $match: { operationType: 'insert', 'fullDocument.n': { $exists: true } } }],
      onEvent: (event) => {
        spin(WORK_MS)
        seen.push((event as { fullDocument: { n: number } }).fullDocument.n)
        if (seen.length === EVENTS) done()
      },
    })
    try {
      await source.ready
      await collection.insertMany(Array.from({ length: EVENTS }, (_, n) => ({ n })))
      // The longest wait of a 5 ms timer while the backlog is dispatched.
      let last = performance.now()
      let longest = 0
      const ticker = setInterval(() => {
        const now = performance.now()
        longest = Math.max(longest, now - last)
        last = now
      }, 5)
      await all
      clearInterval(ticker)
      expect(seen).toEqual(Array.from({ length: EVENTS }, (_, n) => n))
      // ~40 ms slices plus one event's work; without them a batch held the timer 451 ms here.
      expect(longest, `a timer waited ${Math.round(longest)} ms`).toBeLessThan(150)
    } finally {
      await source.stop()
    }
  })
})
