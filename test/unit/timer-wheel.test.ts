import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createTimerWheel, type TimerWheelOptions } from '../../src/server/timer-wheel.js'

/** A wheel over fake timers that records when each item was found due. */
function recordingWheel(opts: Omit<TimerWheelOptions<string>, 'onDue'>, onDue?: (item: string, at: number) => void) {
  const calls: Array<{ item: string; at: number; now: number }> = []
  const wheel = createTimerWheel<string>({
    ...opts,
    onDue(item, at) {
      calls.push({ item, at, now: Date.now() })
      onDue?.(item, at)
    },
  })
  return { wheel, calls }
}

describe('createTimerWheel', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000 })
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it('finds an item due at the first tick boundary at or after its deadline', () => {
    const { wheel, calls } = recordingWheel({ slotMs: 100 })
    wheel.schedule('a', Date.now() + 250)
    wheel.schedule('b', Date.now() + 300)
    vi.advanceTimersByTime(299)
    expect(calls).toEqual([])
    vi.advanceTimersByTime(1)
    expect(calls.map((c) => c.item).sort()).toEqual(['a', 'b'])
    expect(calls.every((c) => c.now === 1_000_300 && c.at === 1_000_300)).toBe(true)
    expect(wheel.size).toBe(0)
  })

  it('spreads periodic items over its slots: each wake handles one slot, not every item', () => {
    const periodMs = 1600
    const { wheel, calls } = recordingWheel({ slotMs: periodMs / 16 }, (item, at) => wheel.schedule(item, at + periodMs))
    // Sixteen items opened 100 ms apart, as sockets are.
    for (let i = 0; i < 16; i++) {
      wheel.schedule(`s${i}`, Date.now() + periodMs)
      vi.advanceTimersByTime(100)
    }
    calls.length = 0
    vi.advanceTimersByTime(periodMs * 3)
    const perWake = new Map<number, number>()
    for (const c of calls) perWake.set(c.now, (perWake.get(c.now) ?? 0) + 1)
    expect(perWake.size).toBe(48)
    expect([...perWake.values()].every((items) => items === 1)).toBe(true)
    // Each item every period exactly, without drift.
    const s3 = calls.filter((c) => c.item === 's3').map((c) => c.now)
    expect(s3[1] - s3[0]).toBe(periodMs)
    expect(s3[2] - s3[1]).toBe(periodMs)
  })

  it('does no wake for empty slots: the timer goes straight to the next slot holding items', () => {
    const { wheel, calls } = recordingWheel({ slotMs: 100 })
    wheel.schedule('a', Date.now() + 1000)
    expect(vi.getTimerCount()).toBe(1)
    vi.advanceTimersToNextTimer()
    expect(Date.now()).toBe(1_001_000)
    expect(calls).toEqual([{ item: 'a', at: 1_001_000, now: 1_001_000 }])
    // Empty again: no timer left.
    expect(vi.getTimerCount()).toBe(0)
  })

  it('forgets a cancelled item, and stops its timer when the wheel is empty', () => {
    const { wheel, calls } = recordingWheel({ slotMs: 100 })
    wheel.schedule('a', Date.now() + 500)
    wheel.schedule('b', Date.now() + 500)
    wheel.cancel('a')
    vi.advanceTimersByTime(1000)
    expect(calls.map((c) => c.item)).toEqual(['b'])
    wheel.schedule('c', Date.now() + 500)
    wheel.cancel('c')
    expect(wheel.size).toBe(0)
    expect(vi.getTimerCount()).toBe(0)
    vi.advanceTimersByTime(1000)
    expect(calls.map((c) => c.item)).toEqual(['b'])
  })

  it('moves a rescheduled item to its new deadline', () => {
    const { wheel, calls } = recordingWheel({ slotMs: 100 })
    wheel.schedule('a', Date.now() + 300)
    wheel.schedule('a', Date.now() + 900)
    vi.advanceTimersByTime(800)
    expect(calls).toEqual([])
    vi.advanceTimersByTime(100)
    expect(calls.map((c) => c.now)).toEqual([1_000_900])
  })

  it('keeps deadlines beyond the longest Node timer (2^31 - 1 ms), looking at them once per turn of the wheel', () => {
    const { wheel, calls } = recordingWheel({ slotMs: 1000, slots: 64 })
    const thirtyDays = 30 * 24 * 3600 * 1000
    wheel.schedule('far', Date.now() + thirtyDays)
    let wakes = 0
    while (calls.length === 0) {
      vi.advanceTimersToNextTimer()
      wakes++
    }
    expect(calls).toEqual([{ item: 'far', at: 1_000_000 + thirtyDays, now: 1_000_000 + thirtyDays }])
    expect(wakes).toBe(Math.ceil(thirtyDays / 64_000))
  })

  it('finds a past deadline due at the next tick', () => {
    const { wheel, calls } = recordingWheel({ slotMs: 100 })
    wheel.schedule('late', Date.now() - 5000)
    vi.advanceTimersByTime(100)
    expect(calls.map((c) => c.item)).toEqual(['late'])
  })

  it('works through a crowded tick over several event-loop turns, perTurn items each', () => {
    const { wheel, calls } = recordingWheel({ slotMs: 100, perTurn: 1000 })
    for (let i = 0; i < 2500; i++) wheel.schedule(`s${i}`, Date.now() + 100)
    vi.advanceTimersToNextTimer()
    expect(calls.length).toBe(1000)
    // Closed while waiting for its turn: not handed out.
    wheel.cancel('s2400')
    vi.advanceTimersToNextTimer()
    expect(calls.length).toBe(2000)
    vi.advanceTimersToNextTimer()
    expect(calls.length).toBe(2499)
    expect(vi.getTimerCount()).toBe(0)
  })

  it('keeps wheels independent: stopping one leaves the other running', () => {
    const one = recordingWheel({ slotMs: 100 })
    const two = recordingWheel({ slotMs: 100 })
    one.wheel.schedule('a', Date.now() + 200)
    two.wheel.schedule('a', Date.now() + 200)
    one.wheel.stop()
    vi.advanceTimersByTime(500)
    expect(one.calls).toEqual([])
    expect(two.calls.map((c) => c.item)).toEqual(['a'])
  })

  it('leaves its timer unref’d: it never keeps the process alive', () => {
    vi.useRealTimers()
    const unref = vi.spyOn(globalThis, 'setTimeout')
    const { wheel } = recordingWheel({ slotMs: 100 })
    wheel.schedule('a', Date.now() + 1000)
    const timer = unref.mock.results[0].value as NodeJS.Timeout
    expect(timer.hasRef()).toBe(false)
    wheel.stop()
    unref.mockRestore()
  })
})
