/**
 * A hashed timer wheel: one unref'd timer for many deadlines, in place of a `Timeout` (and its closure) per item.
 * Time is cut into ticks of `slotMs`; an item due at `at` belongs to tick `ceil(at / slotMs)` and sits in slot
 * `tick % slots`. The timer wakes only at ticks whose slot holds items; a wake looks at that slot alone and calls
 * `onDue` for its items whose tick has come. An item more than one turn of the wheel away stays in its slot and is
 * looked at (one comparison) once per turn until its tick comes, so deadlines of any distance need no long timer.
 *
 * An item is due at most one tick late: at the first tick boundary at or after `at`. Tick boundaries are multiples
 * of `slotMs` on the clock, so whole-second deadlines on a 1000 ms wheel are met on time.
 *
 * Each owner (a WebSocket server, its protocol) creates its own wheels: several gateways in one process stay
 * independent. An item costs one entry in a Map and one in a Set.
 */
export interface TimerWheel<T> {
  /** Makes `item` due at `at` (ms on the wheel's clock), replacing a deadline it had. A past `at` is due at the next tick. */
  schedule(item: T, at: number): void
  /** Forgets `item`'s deadline, if any. */
  cancel(item: T): void
  /** Items with a deadline. */
  readonly size: number
  /** Forgets every deadline and stops the timer. The wheel may be used again afterwards. */
  stop(): void
}

export interface TimerWheelOptions<T> {
  /** Length of a tick: how late, at most, an item is found due. */
  slotMs: number
  /**
   * Slots in the wheel. Items due within `slots` ticks cost no wake but their own; further ones are looked at
   * once per turn. Default 16.
   */
  slots?: number
  /**
   * Called once when `item` is due, with the time it was due at (its tick boundary: `at` rounded up to the tick),
   * after it was removed from the wheel; it may schedule the item again (a periodic item adds its period to `at`,
   * so that it does not drift). Must not throw.
   */
  onDue: (item: T, at: number) => void
  /**
   * Items handed to `onDue` in one event-loop turn; the rest of a crowded tick (a reconnect storm puts thousands of
   * sockets in one slot) continue in the next turns, so a tick never holds the loop for long. Default 64: a keep-alive
   * ping is a socket write, and sockets that connected together share a slot (at 1,024 per turn, the fan-out
   * benchmark's S1 measured an event-loop delay max of 53–60 ms against 34–38 ms with a timer per socket; at 64,
   * the same as with a timer per socket).
   */
  perTurn?: number
  /** The clock. Default `Date.now`. */
  now?: () => number
}

export function createTimerWheel<T>(opts: TimerWheelOptions<T>): TimerWheel<T> {
  const { slotMs, onDue } = opts
  if (!(slotMs > 0) || !Number.isFinite(slotMs)) throw new RangeError(`slotMs must be a positive number, got ${slotMs}`)
  const count = opts.slots ?? 16
  const perTurn = opts.perTurn ?? 64
  const now = opts.now ?? Date.now
  // Ticks count from a tick boundary near creation, so they stay small integers.
  const epoch = Math.floor(now() / slotMs) * slotMs
  const slots = Array.from({ length: count }, () => new Set<T>())
  const ticks = new Map<T, number>()
  /** The last tick whose slot was looked at: items scheduled now are due at a later one. */
  let visited = tickAt(now())
  let timer: NodeJS.Timeout | undefined
  let armedTick = Infinity
  /** Items of the tick being worked through over several turns; no timer meanwhile. */
  let pending: T[] | undefined
  let immediate: NodeJS.Immediate | undefined

  function tickAt(time: number): number {
    return Math.floor((time - epoch) / slotMs)
  }

  /** The first tick after `visited` at which `tick`'s slot is looked at. */
  function nextVisit(tick: number): number {
    return tick - visited <= count ? tick : visited + 1 + ((tick - visited - 1) % count)
  }

  function arm(tick: number) {
    if (timer !== undefined) clearTimeout(timer)
    armedTick = tick
    timer = setTimeout(wake, Math.max(0, Math.ceil(epoch + tick * slotMs - now())))
    timer.unref()
  }

  /** Arms the timer for the next slot holding items, or leaves it unarmed when the wheel is empty. */
  function armNext() {
    armedTick = Infinity
    if (timer !== undefined) clearTimeout(timer)
    timer = undefined
    if (ticks.size === 0) return
    for (let tick = visited + 1; tick <= visited + count; tick++) {
      if (slots[tick % count].size > 0) return arm(tick)
    }
  }

  function wake() {
    timer = undefined
    armedTick = Infinity
    const current = tickAt(now())
    if (current <= visited) return armNext()
    // After a stall (or a clock jump) longer than a turn, each slot is looked at once.
    const due: T[] = []
    for (let tick = visited + 1; tick <= Math.min(current, visited + count); tick++) {
      for (const item of slots[tick % count]) if (ticks.get(item)! <= current) due.push(item)
    }
    visited = current
    pending = due
    work(0)
  }

  /** Hands `pending` items from `from` to `onDue`, up to `perTurn` of them; continues in the next turn if more. */
  function work(from: number) {
    immediate = undefined
    const due = pending!
    const end = Math.min(due.length, from + perTurn)
    for (let i = from; i < end; i++) {
      const item = due[i]
      const tick = ticks.get(item)
      // Cancelled or scheduled again (for a later tick) since this tick began.
      if (tick === undefined || tick > visited) continue
      ticks.delete(item)
      slots[tick % count].delete(item)
      onDue(item, epoch + tick * slotMs)
    }
    if (end < due.length) {
      immediate = setImmediate(work, end)
      immediate.unref()
      return
    }
    pending = undefined
    armNext()
  }

  function cancel(item: T) {
    const tick = ticks.get(item)
    if (tick === undefined) return
    ticks.delete(item)
    slots[tick % count].delete(item)
    // The last item gone (its socket closed): nothing left to wake for.
    if (ticks.size === 0 && pending === undefined) armNext()
  }

  return {
    schedule(item, at) {
      cancel(item)
      const tick = Math.max(Math.ceil((at - epoch) / slotMs), visited + 1)
      ticks.set(item, tick)
      slots[tick % count].add(item)
      if (pending === undefined && nextVisit(tick) < armedTick) arm(nextVisit(tick))
    },
    cancel,
    get size() {
      return ticks.size
    },
    stop() {
      if (timer !== undefined) clearTimeout(timer)
      if (immediate !== undefined) clearImmediate(immediate)
      timer = immediate = pending = undefined
      armedTick = Infinity
      ticks.clear()
      for (const slot of slots) slot.clear()
    },
  }
}
