/**
 * A budget of work per turn of the event loop, shared by many loops: past it, they wait for a later turn, first
 * come first served. Each turn wakes only as many waiters as it has room for, so a long queue (ten thousand
 * subscriptions starting at once) costs nothing per turn to those still waiting.
 */
export function createTurnBudget(perTurn: number): { take(): Promise<void> | undefined } {
  let used = 0
  let turnScheduled = false
  let waiting: Array<() => void> = []
  let head = 0
  const schedule = () => {
    if (turnScheduled) return
    turnScheduled = true
    setImmediate(nextTurn)
  }
  function nextTurn(): void {
    turnScheduled = false
    used = 0
    while (used < perTurn && head < waiting.length) {
      used++
      const wake = waiting[head]
      waiting[head++] = undefined as never
      wake()
    }
    if (head === waiting.length) {
      waiting = []
      head = 0
    } else {
      if (head > 1024 && head * 2 > waiting.length) {
        waiting = waiting.slice(head)
        head = 0
      }
      schedule()
    }
  }
  return {
    take(): Promise<void> | undefined {
      schedule()
      if (used < perTurn && head === waiting.length) {
        used++
        return undefined
      }
      return new Promise<void>((resolve) => waiting.push(resolve))
    },
  }
}

/**
 * A turn budget shared fairly between keys (tenants): while some wait, each turn serves the keys with waiters in
 * turn, one waiter each, first come first served within a key. A key with ten thousand waiters delays another
 * key's one by at most a turn.
 */
export function createFairTurnBudget(perTurn: number): { take(key: string): Promise<void> | undefined } {
  let used = 0
  let turnScheduled = false
  let waiters = 0
  /** Waiters by key, in the order the keys started waiting; a key leaves when its last waiter is woken. */
  const queues = new Map<string, Array<() => void>>()
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
      const wake = queue.shift()!
      waiters--
      used++
      if (queue.length === 0) {
        queues.delete(key)
        ring.splice(next, 1)
      } else {
        next++
      }
      wake()
    }
    if (waiters > 0) schedule()
    else {
      ring = []
      next = 0
    }
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
          queues.set(key, (queue = []))
          ring.push(key)
        }
        queue.push(resolve)
        waiters++
      })
    },
  }
}
