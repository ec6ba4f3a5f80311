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
