/** Requests between the embedded-server benchmark and its load-generator and watcher processes. */
import type { LoopDelay } from '../lib/loop-delay.js'
import type { LatencySummary } from '../lib/stats.js'

export const DATABASE = 'bench'

/** A measured run: what was done in how long, with per-operation round trips where they were timed. */
export interface RunResult {
  readonly ops: number
  readonly seconds: number
  readonly perSecond: number
  readonly roundTripMs?: LatencySummary
}

export interface InsertOneRequest {
  readonly collection: string
  readonly seconds: number
  readonly rounds: number
}

export interface InsertOneResult {
  readonly ping: RunResult
  readonly insertOne: RunResult
}

export interface InsertManyRequest {
  readonly collection: string
  readonly total: number
  readonly batchSize: number
}

export interface BsonRequest {
  readonly total: number
}

export interface PacedWriteRequest {
  readonly collection: string
  /** orderId of the first insert; the rest follow one by one. */
  readonly firstOrderId: number
  readonly rate: number
  readonly seconds: number
  /** Inserts allowed in flight at once; the writer falls behind its schedule rather than exceed it. */
  readonly maxInFlight: number
}

export interface PacedWriteResult extends RunResult {
  readonly acknowledged: number
  readonly failed: number
  /** How late, at worst, an insert was sent against its schedule. */
  readonly maxLagMs: number
  /** The writer's own event-loop delay while it wrote. */
  readonly loopDelayMs: LoopDelay
}

export interface WatchRequest {
  readonly collection: string
  readonly streams: number
  /**
   * Inserts the writer makes before measuring, orderId -warmUp .. -1: delivery is checked, latency is not recorded
   * (it shows the processes' own warm-up: JIT, connections).
   */
  readonly warmUp: number
  /** Measured inserts the writer will make at most (orderId 0 .. capacity - 1). */
  readonly capacity: number
}

export interface CollectRequest {
  /** Measured inserts made: orderId 0 .. expected - 1 (plus the warm-up ones). */
  readonly expected: number
  /** Give up when no stream received anything for this long. */
  readonly idleMs: number
  readonly timeoutMs: number
}

export interface CollectResult {
  readonly streams: number
  /** Warm-up and measured events each stream should have delivered. */
  readonly expectedPerStream: number
  readonly received: number
  readonly lost: number
  readonly duplicates: number
  readonly minPerStream: number
  readonly maxPerStream: number
  /** Largest getMore batch any stream received, from the events the driver still held when one arrived. */
  readonly largestBatch: number
  readonly streamErrors: number
  /** Events received on all streams since the last `mark` request. */
  readonly eventsSinceMark: number
  /** Measured events only. */
  readonly latencyMs: LatencySummary
  readonly warmUpLatencyMs: LatencySummary
  /** Receive time − the event's `wallTime` (the server's commit clock, whole milliseconds): measured events only. */
  readonly commitLatencyMs: LatencySummary
  readonly seconds: number
  /** The watcher's own event-loop delay since `mark`. */
  readonly loopDelayMs: LoopDelay
}
