/** A budget of work per turn of the event loop, shared by many loops: past it, they wait for the next turn. */
export function createTurnBudget(perTurn: number): { take(): Promise<void> | undefined } {
  let used = 0
  let turnScheduled = false
  let waiting: Array<() => void> = []
  const nextTurn = () => {
    turnScheduled = false
    used = 0
    const woken = waiting
    waiting = []
    for (const wake of woken) wake()
  }
  const take = (): Promise<void> | undefined => {
    if (!turnScheduled) {
      turnScheduled = true
      setImmediate(nextTurn)
    }
    if (used < perTurn) {
      used++
      return undefined
    }
    return new Promise<void>((resolve) => waiting.push(resolve)).then(take)
  }
  return { take }
}
