import type { Document } from 'mongodb'
import { bindLoader } from '../../loaders/index.js'
import type { Delivery } from '../../streams/stream-event.js'
import type { GraphQLContext } from '../context.js'
import { builder } from '../builder.js'
import { toRelaxed } from '../ejson.js'
import { idString } from '../ids.js'
import { OperationTypeEnum, TransitionEnum } from './enums.js'
import { OrderRef } from './order.js'
import { UserRef } from './user.js'

type OperationType = 'INSERT' | 'UPDATE' | 'REPLACE' | 'DELETE'
interface FieldChange {
  readonly path: string
  readonly value: unknown
}

const FieldChangeRef = builder.objectRef<FieldChange>('FieldChange').implement({
  fields: (t) => ({
    path: t.exposeString('path'),
    value: t.field({ type: 'JSON', nullable: true, resolve: (c) => c.value }),
  }),
})

/** Memoised per event (and tenant where it differs): the work every subscriber would otherwise repeat. */
function memo<T>(delivery: Delivery, key: string, make: () => T): T {
  const { memo } = delivery.event
  if (memo.has(key)) return memo.get(key) as T
  const value = make()
  memo.set(key, value)
  return value
}

const cursorOf = (d: Delivery, ctx: GraphQLContext) =>
  memo(d, `cursor:${d.tenant}`, () =>
    ctx.services.cursors.encode({ tenant: d.tenant, collection: d.event.collection, position: d.event.position }),
  )

/** A tenant change shows neither side the other tenant's content: the images and the delta are withheld. */
const tenantChanged = (d: Delivery) =>
  d.event.before != null && d.event.after != null && d.event.before.tenantId !== d.event.after.tenantId

const postImage = (d: Delivery, ctx: GraphQLContext): Document | null => {
  const doc = d.event.after
  if (!doc || doc.tenantId !== d.tenant) return null
  withEventLoader(d, ctx, doc)
  return doc
}

const preImage = (d: Delivery, ctx: GraphQLContext): Document | null => {
  const doc = d.event.before
  if (!doc || doc.tenantId !== d.tenant) return null
  withEventLoader(d, ctx, doc)
  return doc
}

/** One users lookup per event however many subscribers select `customer`. */
function withEventLoader(d: Delivery, ctx: GraphQLContext, doc: Document) {
  const loader = memo(d, `users:${d.tenant}`, () => ctx.services.createLoader('users', d.tenant))
  bindLoader(doc, loader)
}

const updatedFields = (d: Delivery): FieldChange[] =>
  memo(d, 'updatedFields', () => {
    const fields = (d.event.raw.updateDescription as Document | undefined)?.updatedFields as Document | undefined
    return fields ? Object.entries(fields).map(([path, value]) => ({ path, value: toRelaxed(value) })) : []
  })

const removedFields = (d: Delivery): string[] =>
  ((d.event.raw.updateDescription as Document | undefined)?.removedFields as string[] | undefined) ?? []

const operationType = (d: Delivery) => d.event.operationType.toUpperCase() as OperationType
const clusterTime = (d: Delivery) => new Date(d.event.clusterTime.high * 1000)
const documentId = (d: Delivery) => idString(d.event.documentKey._id)

export const OrderChangeEventRef = builder.objectRef<Delivery>('OrderChangeEvent').implement({
  fields: (t) => ({
    cursor: t.field({ type: 'Cursor', description: 'Pass as `after` to continue right after this event', resolve: (d, _a, ctx) => cursorOf(d, ctx) }),
    operationType: t.field({ type: OperationTypeEnum, resolve: operationType }),
    transition: t.field({ type: TransitionEnum, resolve: (d) => d.transition }),
    clusterTime: t.field({ type: 'DateTime', resolve: clusterTime }),
    documentId: t.id({ resolve: documentId }),
    order: t.field({ type: OrderRef, nullable: true, description: 'Post-image; null for deletes and for LEFT-by-tenant-change', resolve: (d, _a, ctx) => postImage(d, ctx) }),
    orderBefore: t.field({ type: OrderRef, nullable: true, description: 'Pre-image where the collection records them', resolve: (d, _a, ctx) => preImage(d, ctx) }),
    updatedFields: t.field({ type: [FieldChangeRef], resolve: (d) => (tenantChanged(d) ? [] : updatedFields(d)) }),
    removedFields: t.stringList({ resolve: (d) => (tenantChanged(d) ? [] : removedFields(d)) }),
  }),
})

const changedFields = (d: Delivery): string[] =>
  memo(d, 'changedFields', () => {
    const description = d.event.raw.updateDescription as Document | undefined
    if (description) {
      const top = new Set<string>()
      for (const path of Object.keys((description.updatedFields as Document | undefined) ?? {})) top.add(path.split('.')[0])
      for (const path of (description.removedFields as string[] | undefined) ?? []) top.add(path.split('.')[0])
      return [...top].sort()
    }
    const doc = d.event.after ?? d.event.before
    return doc ? Object.keys(doc).filter((k) => k !== '_id').sort() : []
  })

export const UserChangeEventRef = builder.objectRef<Delivery>('UserChangeEvent').implement({
  fields: (t) => ({
    cursor: t.field({ type: 'Cursor', resolve: (d, _a, ctx) => cursorOf(d, ctx) }),
    operationType: t.field({ type: OperationTypeEnum, resolve: operationType }),
    clusterTime: t.field({ type: 'DateTime', resolve: clusterTime }),
    documentId: t.id({ resolve: documentId }),
    user: t.field({ type: UserRef, nullable: true, resolve: (d, _a, ctx) => postImage(d, ctx) }),
    changedFields: t.stringList({ resolve: (d) => (tenantChanged(d) ? [] : changedFields(d)) }),
  }),
})
