import type { Document } from 'mongodb'
import type { DocumentPredicate } from './matcher.js'

/** How a change moved a document relative to a subscription's document filter. */
export type Transition = 'ENTERED' | 'UPDATED' | 'LEFT'

/** The value at a dotted path (`org.id`), or undefined. */
export function valueAt(doc: Document | null | undefined, path: string): unknown {
  let value: unknown = doc
  for (const segment of path.split('.')) {
    if (value === null || typeof value !== 'object') return undefined
    value = (value as Document)[segment]
  }
  return value
}

/** Whether `doc` belongs to `tenant`; every document does for a model without a tenant field. */
export const belongsTo = (doc: Document, tenant: string, tenantField: string | null): boolean =>
  tenantField === null || valueAt(doc, tenantField) === tenant

/**
 * The transition one change makes for one tenant's subscription, from the document exactly as it was just before
 * and just after that change (pre- and post-image):
 *
 * - in the filter before and after: `UPDATED`;
 * - after only: `ENTERED` (inserts of a matching document too);
 * - before only: `LEFT` (deletes of a matching document too);
 * - neither: `null`, nothing to deliver.
 *
 * A side is "in" when the image exists, belongs to `tenant` and matches. So a document whose tenant changes is LEFT
 * for the old tenant (only its pre-image is theirs) and ENTERED for the new one (only its post-image is). Callers
 * must then hide the other tenant's image: {@link visibleImages} does exactly that.
 */
export function computeTransition(
  before: Document | null | undefined,
  after: Document | null | undefined,
  tenant: string,
  tenantField: string | null,
  matches: DocumentPredicate,
): Transition | null {
  const wasIn = before != null && belongsTo(before, tenant, tenantField) && matches(before)
  const isIn = after != null && belongsTo(after, tenant, tenantField) && matches(after)
  if (wasIn && isIn) return 'UPDATED'
  if (isIn) return 'ENTERED'
  if (wasIn) return 'LEFT'
  return null
}

/** The images `tenant` may see of a change: an image that belongs to another tenant is null. */
export function visibleImages(
  before: Document | null | undefined,
  after: Document | null | undefined,
  tenant: string,
  tenantField: string | null,
): { readonly before: Document | null; readonly after: Document | null } {
  return {
    before: before != null && belongsTo(before, tenant, tenantField) ? before : null,
    after: after != null && belongsTo(after, tenant, tenantField) ? after : null,
  }
}

/** The tenants a change concerns (pre- and post-image's); null for a model without tenants (everyone). */
export function tenantsOf(before: Document | null, after: Document | null, tenantField: string | null): readonly string[] | null {
  if (tenantField === null) return null
  const tenants: string[] = []
  const tb = valueAt(before, tenantField)
  const ta = valueAt(after, tenantField)
  if (typeof tb === 'string') tenants.push(tb)
  if (typeof ta === 'string' && ta !== tb) tenants.push(ta)
  return tenants
}
