/** Requests between the catch-up benchmark and its client process. */
import type { LatencySummary } from '../lib/stats.js'
import type { LayoutOptions } from '../fanout/layout.js'
import type { PhaseTally } from '../fanout/protocol.js'

export interface ConnectRequest {
  readonly url: string
  /** The live subscribers; resumer r watches customer r % customers of this layout. */
  readonly layout: LayoutOptions
  readonly resumers: number
  /** One bearer token per tenant, in layout order. */
  readonly tokens: readonly string[]
  readonly concurrency: number
}

export interface ConnectResult {
  readonly liveSockets: number
  readonly resumerSockets: number
  readonly ms: number
}

/** Resumers caught up so far. */
export interface Progress {
  readonly resumed: number
  /** Received an event committed after their resubscribe. */
  readonly live: number
  readonly ended: number
}

export interface CollectRequest {
  readonly phase: number
  /** Writes 0 .. writes-1 of the phase were made. */
  readonly writes: number
  readonly idleMs: number
  readonly timeoutMs: number
  /** Epoch ms the phase's writes started: live latency before the resume is taken from `settleMs` after it. */
  readonly phaseStartAt: number
  readonly settleMs: number
  /** Live latency "during the catch-up" is taken over this long from the resume. */
  readonly windowMs: number
}

export interface TimelineBucket {
  /** Start of the bucket, in seconds from the resume (negative: before it). */
  readonly fromS: number
  readonly liveCount: number
  readonly liveP99: number
  readonly liveMax: number
  /** Deliveries to resumers in the bucket. */
  readonly resumerCount: number
}

export interface ResumerSummary {
  readonly resumers: number
  readonly resumed: number
  /** Resumers that received an event committed after their resubscribe. */
  readonly live: number
  /** From resubscribing to receiving the first event committed after it (ms). */
  readonly timeToLiveMs: LatencySummary
  /** From resubscribing to receiving the last event committed before it (ms): the replay alone. */
  readonly replayMs: LatencySummary
  /** From resubscribing to the first delivery (ms). */
  readonly firstDeliveryMs: LatencySummary
  /** Commit to client of the first event committed after the resubscribe. */
  readonly firstLiveLatencyMs: LatencySummary
  /** Deliveries of events committed before the resubscribe. */
  readonly replayed: number
  /** Receipts after the resume of events from before the cursor (warm-up writes): each one is a duplicate. */
  readonly beforeCursor: number
  readonly ended: Record<string, number>
}

export interface CollectResult {
  readonly live: PhaseTally
  readonly resumers: PhaseTally
  readonly liveBefore: LatencySummary
  readonly liveDuring: LatencySummary
  readonly liveAfter: LatencySummary
  readonly timeline: readonly TimelineBucket[]
  readonly resumerSummary: ResumerSummary
  readonly liveEnded: Record<string, number>
  readonly unparsed: number
  readonly dropped: number
}
