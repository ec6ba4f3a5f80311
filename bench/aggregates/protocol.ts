/** Requests between the live aggregates benchmark and its client worker. */
import type { LayoutOptions } from './layout.js'

export type Mode = 'aggregates' | 'baseline'

export interface ConnectRequest {
  readonly url: string
  readonly layout: LayoutOptions
  /** One bearer token per tenant, in TENANTS order. */
  readonly tokens: readonly string[]
  readonly mode: Mode
  /** `throttleMs` of every aggregate subscription; null: the gateway's default. */
  readonly throttleMs: number | null
}

export interface ReceiverCounts {
  /** Every WebSocket message from the gateway, and their payload bytes (UTF-8, frame headers not counted). */
  readonly messages: number
  readonly bytes: number
  /** `next` messages. */
  readonly values: number
  /** Subscriptions that got at least one `next`. */
  readonly reached: number
  /** Subscriptions ended by an error or `complete`, by code. */
  readonly ended: Record<string, number>
  /** Sockets the server closed. */
  readonly dropped: number
  /** Epoch ms of the last message. */
  readonly lastAt: number
  /** The latest commit (see `cursorCommit`) any value or event stood for; NaN before any. */
  readonly maxCommit: number
}

export interface PhaseSamples extends ReceiverCounts {
  /**
   * One entry per (subscription, commit) first seen: the commit (cluster time, see `cursorCommit`) and the receipt
   * time (epoch ms). Aggregate values with a cursor already seen by that subscription (a window moving on the clock)
   * and values at a bare cluster time are not samples.
   */
  readonly commits: Float64Array
  readonly receivedAt: Float64Array
  /** Non-empty totals held by the baseline's clients at the end (0 for aggregates). */
  readonly clientTotals: number
}
