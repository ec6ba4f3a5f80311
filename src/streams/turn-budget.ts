/**
 * A budget of work per turn of the event loop shared fairly between keys (tenants): past it, takers wait for a later
 * turn, and while some wait each turn serves the keys with waiters in turn, one waiter each, first come first served
 * within a key. A key with ten thousand waiters delays another key's one by at most a turn. Each turn wakes only as
 * many waiters as it has room for, so a long queue costs nothing per turn to those still waiting.
 */
export function createFairTurnBudget(perTurn: number): { take(key: string): Promise<void> | undefined } {
  let used = 0
  let turnScheduled = false
  let waiters = 0
  /** Waiters by key (woken from `head` on); a key leaves when its last waiter is woken. */
  const queues = new Map<string, { items: Array<() => void>; head: number }>()
  /** The keys with waiters, in the order they started waiting, and the one the next turn serves first. */
  let ring: string[] = []
  let next = 0
  const schedule = () => {
    if (turnScheduled) return
    turnScheduled = true
    setImmediate(nextTurn)
  }
  function nextTurn(): void {
    turnScheduled = false
    used = 0
    while (used < perTurn && waiters > 0) {
      if (next >= ring.length) next = 0
      const key = ring[next]
      const queue = queues.get(key)!
      const wake = queue.items[queue.head]
      queue.items[queue.head++] = undefined as never
      waiters--
      used++
      if (queue.head === queue.items.length) {
        queues.delete(key)
        ring.splice(next, 1)
      } else {
        // A queue that never empties (waiters join as fast as they leave) drops its woken part now and then.
        if (queue.head > 1024 && queue.head * 2 > queue.items.length) {
          queue.items = queue.items.slice(queue.head)
          queue.head = 0
        }
        next++
      }
      wake()
    }
    if (waiters > 0) return schedule()
    ring = []
    next = 0
  }
  return {
    take(key: string): Promise<void> | undefined {
      schedule()
      if (used < perTurn && waiters === 0) {
        used++
        return undefined
      }
      return new Promise<void>((resolve) => {
        let queue = queues.get(key)
        if (!queue) {
          queues.set(key, (queue = { items: [], head: 0 }))
          ring.push(key)
        }
        queue.items.push(resolve)
        waiters++
      })
    },
  }
}

/** A turn budget shared by many loops, first come first served: {@link createFairTurnBudget} with one key. */
export function createTurnBudget(perTurn: number): { take(): Promise<void> | undefined } {
  const budget = createFairTurnBudget(perTurn)
  return { take: () => budget.take('') }
}
