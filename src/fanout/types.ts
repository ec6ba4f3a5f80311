import type { Document } from 'mongodb'
import type { ErrorCode } from '../errors.js'
import type { Position } from '../mongo/position.js'

/** What travels from a stream's owner to every node that has subscribers on it. */
export type StreamMessage =
  | { readonly kind: 'event'; readonly raw: Document }
  /** The stream advanced without an event (high-water mark). */
  | { readonly kind: 'position'; readonly position: Position }
  /** The stream ended for good: subscribers end with this code. */
  | { readonly kind: 'end'; readonly code: ErrorCode }

export type StreamListener = (message: StreamMessage) => void

/** Carries stream messages from owners to subscribers; in-process for one node, Redis across nodes. */
export interface FanOut {
  publish(streamKey: string, message: StreamMessage): void
  subscribe(streamKey: string, listener: StreamListener): () => void
  stop(): Promise<void>
}
