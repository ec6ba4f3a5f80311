import type { Document, Timestamp } from 'mongodb'
import { positionFromEvent, type Position } from '../mongo/position.js'
import { tenantsOf, type Transition } from './filters/transitions.js'

/** A collection's name in MONGODB_DB. */
export type Collection = string

/** One change event, parsed once and shared by every subscriber that receives it. */
export interface StreamEvent {
  readonly collection: Collection
  readonly raw: Document
  readonly position: Position
  readonly operationType: string
  readonly documentKey: Document
  readonly clusterTime: Timestamp
  readonly wallTime: Date | undefined
  /** Pre-image, when recorded. */
  readonly before: Document | null
  /** Post-image, when recorded (null for deletes). */
  readonly after: Document | null
  /** Where the collection's documents name their tenant; null for a collection without tenants. */
  readonly tenantField: string | null
  /**
   * Tenants the event concerns: the tenant of the pre- and post-image (a delete without pre-image concerns none);
   * null for a collection without tenants (it concerns every subscriber).
   */
  readonly tenants: readonly string[] | null
  /** Per-event memo shared by subscribers: cursors per tenant, loaders, serialized parts. */
  readonly memo: Map<string, unknown>
}

/** What one subscriber receives for one event. */
export interface Delivery {
  readonly event: StreamEvent
  readonly tenant: string
  readonly transition: Transition
}

export { INVALIDATING_EVENTS } from '../mongo/history.js'

/**
 * Parses a raw change event. `keep` (default true) leaves the parse for other readers of the same event; false only
 * looks it up.
 */
export type EventParser = (collection: Collection, raw: Document, keep?: boolean) => StreamEvent

/**
 * Parses through a bounded cache keyed by resume token, so everyone reading the same event from history — any number
 * of subscribers catching up over it, and the live stream when a catch-up read it first — shares one parse and one
 * per-event memo (cursors, loaders, serialized results).
 *
 * The live stream looks events up but does not keep them (`keep` false): kept, every event and its memo would live
 * for the last `maxEntries` events (2 s at 1,000 events/s), long enough for V8 to move all of it to the old
 * generation, whose growth forces a full mark of the heap every few seconds; at 25,000 subscriptions such a mark
 * takes 260–490 ms of the main thread within half a second, and deliveries wait meanwhile. (This and the reused
 * arrays of subscriber-queue.ts took the fan-out benchmark's S1 at 25,000 subscriptions from 5.3 to 2.0 MB promoted
 * per second.) A catch-up that reaches live parses the few events it shares with the live stream once more.
 */
export function createEventCache(tenantFieldOf: (collection: Collection) => string | null, maxEntries = 2000): EventParser {
  const cache = new Map<string, StreamEvent>()
  return (collection, raw, keep = true) => {
    const token = (raw._id as { _data?: unknown } | undefined)?._data
    if (typeof token !== 'string') return parseStreamEvent(collection, raw, tenantFieldOf(collection))
    const cached = cache.get(token)
    if (cached && cached.collection === collection) return cached
    const event = parseStreamEvent(collection, raw, tenantFieldOf(collection))
    if (!keep) return event
    cache.set(token, event)
    if (cache.size > maxEntries) cache.delete(cache.keys().next().value as string)
    return event
  }
}

export function parseStreamEvent(collection: Collection, raw: Document, tenantField: string | null): StreamEvent {
  const before = (raw.fullDocumentBeforeChange as Document | null | undefined) ?? null
  const after = (raw.fullDocument as Document | null | undefined) ?? null
  return {
    collection,
    raw,
    position: positionFromEvent(raw as Document & { _id: { _data: string } }),
    operationType: raw.operationType as string,
    documentKey: (raw.documentKey as Document | undefined) ?? {},
    clusterTime: raw.clusterTime as Timestamp,
    wallTime: raw.wallTime as Date | undefined,
    before,
    after,
    tenantField,
    tenants: tenantsOf(before, after, tenantField),
    memo: new Map(),
  }
}
