/**
 * Delivery accounting on the receiving side: per phase, which subscriber received which write (once, twice, or
 * not at all), and the commit-to-receiver latency of each first receipt.
 */
import { createLoopDelayMonitor } from '../lib/loop-delay.js'
import { createSamples, summarize, type Samples } from '../lib/stats.js'
import { writesFor } from './layout.js'
import type { LatencyWindow, PhaseTally } from './protocol.js'

interface PhaseState {
  /** seen[index * members + member], index = seq / customers. */
  seen: Uint8Array
  slots: number
  /** Latency and receive time of each first receipt, in arrival order. */
  readonly receipts: Series
  distinct: number
  duplicates: number
  /** Writes that reached a member whose customer they do not concern. */
  misrouted: number
  firstAt: number
  lastAt: number
  maxGapMs: number
}

export interface Tally {
  /** Records one receipt; `receivedAt` and `createdAt` are epoch milliseconds. */
  record(member: number, phase: number, seq: number, createdAt: number, receivedAt: number): void
  /** Members that received at least one write of `phase`. */
  reached(phase: number): number
  /** Waits until every member has every write 0 .. writes-1 of `phase`, or nothing arrived for `idleMs`. */
  collect(phase: number, writes: number, idleMs: number, timeoutMs: number, windowMs: number): Promise<PhaseTally>
  /** Members whose subscription ended, by the error code it ended with. */
  ended(): Record<string, number>
  end(member: number, code: string): void
}

interface Series {
  add(time: number, value: number): void
  times(): Float64Array
  values(): Float64Array
}

/** Growable (time, value) pairs in typed arrays. */
function createSeries(): Series {
  let times = new Float64Array(64 * 1024)
  let values = new Float64Array(64 * 1024)
  let length = 0
  return {
    add(time, value) {
      if (length === times.length) {
        const t = new Float64Array(length * 2)
        const v = new Float64Array(length * 2)
        t.set(times)
        v.set(values)
        times = t
        values = v
      }
      times[length] = time
      values[length++] = value
    },
    times: () => times.subarray(0, length),
    values: () => values.subarray(0, length),
  }
}

/** p99 and max of the receipts in each `windowMs` slice from the first receipt on. */
function latencyWindows(state: PhaseState, windowMs: number): LatencyWindow[] {
  const windows: Array<Samples | undefined> = []
  const times = state.receipts.times()
  const values = state.receipts.values()
  for (let i = 0; i < values.length; i++) {
    const w = Math.floor((times[i] - state.firstAt) / windowMs)
    ;(windows[w] ??= createSamples()).add(values[i])
  }
  return Array.from(windows, (samples, i) => {
    const s = samples?.summarize()
    return { fromMs: i * windowMs, count: s?.count ?? 0, p99: s?.p99 ?? NaN, max: s?.max ?? NaN }
  })
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

export function createTally(memberCustomers: Int32Array, customers: number): Tally {
  const members = memberCustomers.length
  const phases = new Map<number, PhaseState>()
  const endedBy = new Map<number, string>()
  /** The receiving process's own event-loop delay, from the latest phase's first receipt on. */
  const loopDelay = createLoopDelayMonitor()

  const phaseState = (phase: number): PhaseState => {
    let state = phases.get(phase)
    if (!state) {
      state = { seen: new Uint8Array(members * 8), slots: 8, receipts: createSeries(), distinct: 0, duplicates: 0, misrouted: 0, firstAt: 0, lastAt: 0, maxGapMs: 0 }
      phases.set(phase, state)
    }
    return state
  }

  return {
    record(member, phase, seq, createdAt, receivedAt) {
      const state = phaseState(phase)
      if (seq % customers !== memberCustomers[member]) {
        state.misrouted++
        return
      }
      const index = Math.floor(seq / customers)
      if (index >= state.slots) {
        const slots = Math.max(index + 1, state.slots * 2)
        const seen = new Uint8Array(members * slots)
        seen.set(state.seen)
        state.seen = seen
        state.slots = slots
      }
      const at = index * members + member
      if (state.seen[at]) {
        state.duplicates++
        return
      }
      state.seen[at] = 1
      state.distinct++
      state.receipts.add(receivedAt, receivedAt - createdAt)
      if (state.firstAt === 0) {
        state.firstAt = receivedAt
        loopDelay.reset()
      } else state.maxGapMs = Math.max(state.maxGapMs, receivedAt - state.lastAt)
      state.lastAt = receivedAt
    },
    reached(phase) {
      const state = phases.get(phase)
      if (!state) return 0
      let count = 0
      for (let m = 0; m < members; m++) {
        for (let index = 0; index < state.slots; index++) {
          if (state.seen[index * members + m]) {
            count++
            break
          }
        }
      }
      return count
    },
    async collect(phase, writes, idleMs, timeoutMs, windowMs) {
      const state = phaseState(phase)
      let expected = 0
      for (let m = 0; m < members; m++) expected += writesFor(customers, memberCustomers[m], writes)
      const calledAt = Date.now()
      const deadline = calledAt + timeoutMs
      while (state.distinct < expected && Date.now() < deadline && Date.now() - Math.max(state.lastAt, calledAt) < idleMs) await sleep(20)
      let membersMissing = 0
      for (let m = 0; m < members; m++) {
        const own = writesFor(customers, memberCustomers[m], writes)
        for (let index = 0; index < own; index++) {
          if (index >= state.slots || !state.seen[index * members + m]) {
            membersMissing++
            break
          }
        }
      }
      const windows = latencyWindows(state, windowMs)
      return {
        windows,
        expected,
        received: state.distinct,
        lost: expected - state.distinct,
        duplicates: state.duplicates,
        misrouted: state.misrouted,
        membersMissing,
        latencyMs: summarize(state.receipts.values().slice()),
        firstAt: state.firstAt,
        lastAt: state.lastAt,
        maxGapMs: state.maxGapMs,
        loopDelayMs: loopDelay.read(),
      }
    },
    ended() {
      const out: Record<string, number> = {}
      for (const code of endedBy.values()) out[code] = (out[code] ?? 0) + 1
      return out
    },
    end(member, code) {
      if (!endedBy.has(member)) endedBy.set(member, code)
    },
  }
}
