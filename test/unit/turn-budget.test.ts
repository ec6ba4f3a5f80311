import { describe, expect, it } from 'vitest'
import { createTurnBudget } from '../../src/streams/turn-budget.js'

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
})
