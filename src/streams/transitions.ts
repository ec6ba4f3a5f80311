import type { Document } from 'mongodb'
import type { DocumentPredicate } from './event-matcher.js'

/** How a change moved a document relative to a subscription's document filter. */
export type Transition = 'ENTERED' | 'UPDATED' | 'LEFT'

/**
 * The transition one change makes for one tenant's subscription, from the document exactly as it was just before
 * and just after that change (pre- and post-image):
 *
 * - in the filter before and after: `UPDATED`;
 * - after only: `ENTERED` (inserts of a matching document too);
 * - before only: `LEFT` (deletes of a matching document too);
 * - neither: `null`, nothing to deliver.
 *
 * A side is "in" when the image exists, belongs to `tenant` and matches. So a document whose `tenantId` changes
 * is LEFT for the old tenant (only its pre-image is theirs) and ENTERED for the new one (only its post-image
 * is). Callers must then hide the other tenant's image: the old tenant gets no post-image (`order: null`) and
 * the new tenant no pre-image (`orderBefore: null`). {@link visibleImages} does exactly that.
 */
export function computeTransition(
  before: Document | null | undefined,
  after: Document | null | undefined,
  tenant: string,
  matches: DocumentPredicate,
): Transition | null {
  const wasIn = inMatch(before, tenant, matches)
  const isIn = inMatch(after, tenant, matches)
  if (wasIn && isIn) return 'UPDATED'
  if (isIn) return 'ENTERED'
  if (wasIn) return 'LEFT'
  return null
}

const inMatch = (doc: Document | null | undefined, tenant: string, matches: DocumentPredicate): boolean =>
  doc != null && doc.tenantId === tenant && matches(doc)

/** The images `tenant` may see of a change: an image that belongs to another tenant is null. */
export function visibleImages(
  before: Document | null | undefined,
  after: Document | null | undefined,
  tenant: string,
): { readonly before: Document | null; readonly after: Document | null } {
  return {
    before: before != null && before.tenantId === tenant ? before : null,
    after: after != null && after.tenantId === tenant ? after : null,
  }
}
