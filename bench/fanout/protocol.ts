/** Requests between the fan-out benchmark and its worker processes. */
import type { LoopDelay } from '../lib/loop-delay.js'
import type { LatencySummary } from '../lib/stats.js'
import type { LayoutOptions } from './layout.js'

export const DATABASE = 'fanout'
export const COLLECTION = 'orders'

export interface LatencyWindow {
  /** Start of the window, from the phase's first receipt. */
  readonly fromMs: number
  readonly count: number
  readonly p99: number
  readonly max: number
}

/** What receivers counted for one phase's writes. */
export interface PhaseTally {
  /** Latency over time: consecutive windows of receipts. */
  readonly windows: readonly LatencyWindow[]
  /** Deliveries the writes call for: each write times the subscriptions it matches. */
  readonly expected: number
  /** Distinct deliveries received. */
  readonly received: number
  readonly lost: number
  readonly duplicates: number
  readonly misrouted: number
  /** Subscriptions that missed at least one of their writes. */
  readonly membersMissing: number
  /** Commit (writer's `createdAt`) to receiver, first receipts only. */
  readonly latencyMs: LatencySummary
  /** Epoch ms of the first and last receipt. */
  readonly firstAt: number
  readonly lastAt: number
  /** Longest time between two consecutive receipts: a stall in delivery. */
  readonly maxGapMs: number
  /**
   * The receiving process's own event-loop delay from the phase's first receipt to the end of collecting: how late
   * it may have read what had arrived (its share of the latency).
   */
  readonly loopDelayMs: LoopDelay
}

export interface CollectRequest {
  readonly phase: number
  /** Writes 0 .. writes-1 of the phase were made. */
  readonly writes: number
  readonly idleMs: number
  readonly timeoutMs: number
  /** Width of the latency-over-time windows. */
  readonly windowMs: number
}

export interface CollectResult extends PhaseTally {
  /** Subscriptions that ended (an error or a `complete` from the server), by code. */
  readonly ended: Record<string, number>
}

/** A paced run of writes: `count` of them from `firstSeq`, at `rate` per second on an open-loop schedule. */
export interface PacedRequest {
  readonly layout: LayoutOptions
  readonly phase: number
  readonly firstSeq: number
  readonly count: number
  readonly rate: number
  /**
   * Send nothing more this long after the start (and report fewer writes): a server that falls behind cannot
   * stretch a phase without bound. Absent = send all `count`.
   */
  readonly deadlineMs?: number
}

export interface PacedResult {
  readonly sent: number
  readonly failed: number
  /** Epoch ms at the first and after the last write. */
  readonly startedAt: number
  readonly endedAt: number
  /** How late, at worst, a write left against its schedule. */
  readonly maxLagMs: number
}

export interface ConnectRequest {
  readonly url: string
  readonly layout: LayoutOptions
  /** One bearer token per tenant, in layout order. */
  readonly tokens: readonly string[]
  /** Handshakes in flight at once. */
  readonly concurrency: number
}

export interface ConnectResult {
  readonly connected: number
  readonly ms: number
}

export interface WatchRequest {
  readonly uri: string
  readonly layout: LayoutOptions
  readonly streams: number
}
