import type { Document } from 'mongodb'

/**
 * Subscription filters → change stream pipelines (DESIGN §5 "Semantics").
 *
 * A pure function of (filter, tenant): the same inputs give the same `$match` stages, and equivalent inputs
 * (lists in another order, with duplicates, a null instead of an omitted field) give byte-identical `canonical`
 * strings, so subscribers with equal filters share one compiled predicate. Client strings never become
 * operators: they appear only as values under `$eq`/`$in`, or as `{ $literal }` inside `$expr`.
 */

export type OperationType = 'INSERT' | 'UPDATE' | 'REPLACE' | 'DELETE'
export type OrderStatus = 'PENDING' | 'CONFIRMED' | 'SHIPPED' | 'DELIVERED' | 'CANCELLED' | 'RETURNED'

export const OPERATION_TYPES: readonly OperationType[] = ['INSERT', 'UPDATE', 'REPLACE', 'DELETE']
export const ORDER_STATUSES: readonly OrderStatus[] = ['PENDING', 'CONFIRMED', 'SHIPPED', 'DELIVERED', 'CANCELLED', 'RETURNED']

export interface OrderChangeFilter {
  readonly operationTypes?: readonly OperationType[] | null
  /** Document filter: status is one of these. */
  readonly status?: readonly OrderStatus[] | null
  /** Document filter: totalAmount >= minTotal (inclusive). */
  readonly minTotal?: number | null
  /** Document filter: totalAmount <= maxTotal (inclusive). */
  readonly maxTotal?: number | null
  /** Document filter: a 24-hex ObjectId. */
  readonly customerId?: string | null
  /** Document filter: exact region. */
  readonly region?: string | null
  /** Only updates that set status to one of these, and replaces whose new status is one of these. */
  readonly statusChangedTo?: readonly OrderStatus[] | null
  /** Only updates touching any of these top-level fields, and replaces (which touch every field). */
  readonly fieldsChanged?: readonly string[] | null
}

export type UserProfileField = 'EMAIL' | 'NAME' | 'TIER' | 'PROFILE' | 'PREFERENCES'
export const USER_PROFILE_FIELDS: readonly UserProfileField[] = ['EMAIL', 'NAME', 'TIER', 'PROFILE', 'PREFERENCES']

export interface UserProfileFilter {
  /** A 24-hex ObjectId: only this user. */
  readonly userId?: string | null
  /** Only updates touching any of these fields, and replaces. */
  readonly fields?: readonly UserProfileField[] | null
}

export interface CompiledFilter {
  readonly collection: 'orders' | 'users'
  readonly tenant: string
  /** Canonical $match stages to append after $changeStream: the whole filter incl. tenant. */
  readonly pipeline: Document[]
  /** EJSON (relaxed:false) stringification of pipeline; byte-identical for identical (or equivalent) filters. */
  readonly canonical: string
  /** Query on the document itself (no tenant), used for transitions; {} when no document constraint. */
  readonly documentFilter: Document
  /** Equality keys usable to index subscribers, e.g. { customerId: '<24hex>' } or { _id: '<24hex>' }; {} when none. */
  readonly indexKeys: Readonly<Record<string, string>>
}

export { compileOrderFilter } from './order-filter.js'
export { compileUserFilter } from './user-filter.js'
