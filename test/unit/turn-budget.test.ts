import { describe, expect, it } from 'vitest'
import { createFairTurnBudget, createTurnBudget } from '../../src/streams/turn-budget.js'

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve))

describe('turn budget', () => {
  it('lets `perTurn` takers through in a turn and the rest in later turns, in the order they asked', async () => {
    const budget = createTurnBudget(2)
    const order: number[] = []
    const takers = Array.from({ length: 5 }, async (_, i) => {
      const wait = budget.take()
      if (wait) await wait
      order.push(i)
    })
    // The first two take at once; nothing else runs before the next turn.
    await Promise.resolve()
    expect(order).toEqual([0, 1])
    await nextTurn()
    expect(order).toEqual([0, 1, 2, 3])
    await Promise.all(takers)
    expect(order).toEqual([0, 1, 2, 3, 4])
  })

  it('serves a long queue a turn at a time, without waking those that must wait again', async () => {
    const budget = createTurnBudget(16)
    let done = 0
    let turns = 0
    const takers = Array.from({ length: 10_000 }, async () => {
      const wait = budget.take()
      if (wait) await wait
      done++
    })
    while (done < 10_000) {
      await nextTurn()
      turns++
      // Never more than the budget per turn, and all of it while some wait.
      expect(done).toBeLessThanOrEqual(16 * (turns + 1))
    }
    await Promise.all(takers)
    expect(turns).toBeGreaterThanOrEqual(10_000 / 16 - 1)
  })
})

describe('fair turn budget', () => {
  it("serves a key that asks once within a turn of asking, however many another key has waiting", async () => {
    const budget = createFairTurnBudget(4)
    const served: string[] = []
    const take = async (key: string) => {
      const wait = budget.take(key)
      if (wait) await wait
      served.push(key)
    }
    const noisy = Array.from({ length: 1_000 }, () => take('noisy'))
    const calm = take('calm')
    await nextTurn()
    await nextTurn()
    // The first turn's 4 went at once; the next turn serves calm among its first two.
    expect(served.slice(0, 6)).toContain('calm')
    expect(served.indexOf('calm')).toBeLessThan(6)
    await Promise.all([...noisy, calm])
    expect(served.filter((key) => key === 'noisy')).toHaveLength(1_000)
  })

  it('keeps serving in order while waiters join as fast as they leave, over many turns', async () => {
    const budget = createTurnBudget(8)
    const served: number[] = []
    let joined = 0
    const join = async () => {
      const me = joined++
      const wait = budget.take()
      if (wait) await wait
      served.push(me)
    }
    // 3,000 turns with 8 newcomers each: the queue never empties until the end.
    const all: Array<Promise<void>> = Array.from({ length: 100 }, join)
    for (let turn = 0; turn < 3_000; turn++) {
      for (let k = 0; k < 8; k++) all.push(join())
      await nextTurn()
    }
    await Promise.all(all)
    expect(served).toEqual(Array.from({ length: joined }, (_, i) => i))
  })
})
