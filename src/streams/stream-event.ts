import type { Document, Timestamp } from 'mongodb'
import { positionFromEvent, type Position } from '../mongo/position.js'
import type { Transition } from './transitions.js'

export type Collection = 'orders' | 'users'

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
  /** Tenants the event concerns: tenantId of the pre- and post-image (a delete without pre-image concerns none). */
  readonly tenants: readonly string[]
  /** Per-event memo shared by subscribers: cursors per tenant, loaders, serialized parts. */
  readonly memo: Map<string, unknown>
}

/** What one subscriber receives for one event. */
export interface Delivery {
  readonly event: StreamEvent
  readonly tenant: string
  readonly transition: Transition
}

export const DATA_EVENTS: ReadonlySet<string> = new Set(['insert', 'update', 'replace', 'delete'])
export const INVALIDATING_EVENTS: ReadonlySet<string> = new Set(['drop', 'rename', 'dropDatabase', 'invalidate'])

export function parseStreamEvent(collection: Collection, raw: Document): StreamEvent {
  const before = (raw.fullDocumentBeforeChange as Document | null | undefined) ?? null
  const after = (raw.fullDocument as Document | null | undefined) ?? null
  const tenants: string[] = []
  const tb = before?.tenantId
  const ta = after?.tenantId
  if (typeof tb === 'string') tenants.push(tb)
  if (typeof ta === 'string' && ta !== tb) tenants.push(ta)
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
    tenants,
    memo: new Map(),
  }
}
