import type { Document } from 'mongodb'
import type { Loaders } from '../../loaders/index.js'
import type { Model, ModelRegistry } from '../../models/index.js'
import { belongsTo } from '../../streams/filters/transitions.js'
import type { Delivery } from '../../streams/stream-event.js'
import type { Builder } from '../builder.js'
import type { GraphQLContext } from '../context.js'
import { toRelaxed } from '../ejson.js'
import { idString } from '../../mongo/ids.js'
import type { CommonTypes, FieldChange } from '../types/common.js'
import type { ModelTypes } from './outputs.js'

/** Memoised per event (and tenant where it differs): the work every subscriber would otherwise repeat. */
function memo<T>(delivery: Delivery, key: string, make: () => T): T {
  const { memo } = delivery.event
  if (memo.has(key)) return memo.get(key) as T
  const value = make()
  memo.set(key, value)
  return value
}

const cursorOf = (d: Delivery, ctx: GraphQLContext) =>
  memo(d, `cursor:${d.tenant}`, () => ctx.services.cursors.encode({ tenant: d.tenant, collection: d.event.collection, position: d.event.position }))

/** A tenant change shows neither side the other tenant's content: the images and the delta are withheld. */
const tenantChanged = (d: Delivery) => {
  const { before, after, tenantField } = d.event
  return tenantField !== null && before != null && after != null && !(belongsTo(before, d.tenant, tenantField) && belongsTo(after, d.tenant, tenantField))
}

/** An image the subscriber's tenant may see. */
function image(d: Delivery, doc: Document | null): Document | null {
  return doc && belongsTo(doc, d.tenant, d.event.tenantField) ? doc : null
}

/**
 * The loaders every subscriber of the event being executed shares (one batched lookup per event for a relation,
 * however many select it); undefined outside a change event's execution, whose root value is its delivery.
 */
export function eventLoaders(rootValue: unknown, ctx: GraphQLContext): Loaders | undefined {
  const d = (rootValue as { readonly value?: Partial<Delivery> } | null | undefined)?.value
  if (d?.event === undefined || typeof d.tenant !== 'string') return undefined
  const tenant = d.tenant
  return memo(d as Delivery, `loaders:${tenant}`, () => ctx.services.createLoaders(tenant))
}

const updatedFields = (d: Delivery): FieldChange[] =>
  memo(d, 'updatedFields', () => {
    const fields = (d.event.raw.updateDescription as Document | undefined)?.updatedFields as Document | undefined
    return fields ? Object.entries(fields).map(([path, value]) => ({ path, value: toRelaxed(value) })) : []
  })

const removedFields = (d: Delivery): string[] =>
  ((d.event.raw.updateDescription as Document | undefined)?.removedFields as string[] | undefined) ?? []

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

type OperationType = 'INSERT' | 'UPDATE' | 'REPLACE' | 'DELETE'

/** `<Model>ChangeEvent` for every model; the payload of its subscription. */
export function addModelEvents(builder: Builder, registry: ModelRegistry, types: ModelTypes, common: CommonTypes): (model: Model) => never {
  const FieldChange = common.FieldChange
  const events = new Map<Model, unknown>()
  for (const model of registry.models) {
    const { names } = model
    const ref = builder.objectRef<Delivery>(names.event).implement({
      description: `One change of a ${names.type}, as one subscriber receives it`,
      fields: (t) => ({
        cursor: t.field({
          type: 'Cursor',
          description: 'Pass as `after:` to resubscribe right after this event (keep the last one you received)',
          resolve: (d, _a, ctx) => cursorOf(d, ctx),
        }),
        operationType: t.field({ type: common.OperationType, description: 'The kind of write', resolve: (d) => d.event.operationType.toUpperCase() as OperationType }),
        transition: t.field({ type: common.Transition, description: "How the change moved the document relative to this subscription's document filter", resolve: (d) => d.transition }),
        clusterTime: t.field({
          type: 'DateTime',
          description: "When MongoDB committed the change (the cluster time's seconds)",
          resolve: (d) => new Date(d.event.clusterTime.high * 1000),
        }),
        documentId: t.id({ description: "The changed document's id", resolve: (d) => idString(d.event.documentKey._id) }),
        [names.single]: t.field({
          type: types.object(names.type),
          nullable: true,
          description: 'Post-image: the document just after this change; null for deletes and when it moved to another tenant (LEFT)',
          resolve: (d) => image(d, d.event.after),
        }),
        [names.before]: t.field({
          type: types.object(names.type),
          nullable: true,
          description: 'Pre-image: the document just before this change (the collection records pre-images); null for inserts and when it came from another tenant (ENTERED)',
          resolve: (d) => image(d, d.event.before),
        }),
        updatedFields: t.field({
          type: [FieldChange],
          description: 'For updates: the fields set, with their new values (relaxed Extended JSON, stored values); empty otherwise and for tenant moves',
          resolve: (d) => (tenantChanged(d) ? [] : updatedFields(d)),
        }),
        removedFields: t.stringList({
          description: 'For updates: the fields removed; empty otherwise and for tenant moves',
          resolve: (d) => (tenantChanged(d) ? [] : removedFields(d)),
        }),
        changedFields: t.stringList({
          description: 'Top-level fields the change touched (every field for inserts, replaces and deletes), sorted; empty for tenant moves',
          resolve: (d) => (tenantChanged(d) ? [] : changedFields(d)),
        }),
      }),
    })
    events.set(model, ref)
  }
  return (model) => events.get(model) as never
}
