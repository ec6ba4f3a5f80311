import type { EnumValue, ResolvedField } from './field-types.js'
import type { AuthSpec, ShorthandOp } from './types.js'

/** A shorthand filter argument, resolved: `field` is absent for `changed` and `changedNames`, `'id'` watches one document. */
export interface ResolvedShorthand {
  readonly name: string
  readonly op: ShorthandOp
  readonly field: ResolvedField | 'id' | undefined
  readonly description: string | undefined
}

export interface ResolvedRelation {
  readonly name: string
  /** The related model's type name. */
  readonly model: string
  readonly field: ResolvedField
}

/** Names of everything generated for one model (type `Ticket` → `ticketChanged`, `TicketWhere`…). */
export interface ModelNames {
  readonly type: string
  /** Get-by-id query, and the event's post-image field. */
  readonly single: string
  readonly before: string
  readonly list: string
  readonly subscription: string
  readonly event: string
  readonly changeFilter: string
  readonly where: string
  readonly fieldEnum: string
  readonly page: string
  readonly listFilter: string
}

/** One configured model, validated and with every derived name and field resolved. */
export interface Model {
  readonly names: ModelNames
  readonly collection: string
  /** Dotted path of the tenant; null = every authenticated caller sees every document. */
  readonly tenantField: string | null
  readonly idType: 'ObjectId' | 'String'
  readonly description: string | undefined
  readonly fields: readonly ResolvedField[]
  /** Comparable fields usable in `where`, by dotted path, in declaration order. */
  readonly filterable: ReadonlyMap<string, ResolvedField>
  readonly relations: readonly ResolvedRelation[]
  readonly shorthands: readonly ResolvedShorthand[]
  /** Whether the list query also takes the flat `filter` argument. */
  readonly listFilter: boolean
  /** Values of the `<Model>Field` enum: top-level fields but the tenant's, with their stored names. */
  readonly fieldEnum: readonly EnumValue[]
}

/** The models a gateway serves, looked up by type name, collection or subscription field. */
export interface ModelRegistry {
  readonly models: readonly Model[]
  readonly auth: AuthSpec | undefined
  byName(type: string): Model | undefined
  byCollection(collection: string): Model | undefined
  bySubscription(field: string): Model | undefined
}

export function createModelRegistry(models: readonly Model[], auth: AuthSpec | undefined): ModelRegistry {
  const byName = new Map(models.map((m) => [m.names.type, m]))
  const byCollection = new Map(models.map((m) => [m.collection, m]))
  const bySubscription = new Map(models.map((m) => [m.names.subscription, m]))
  return {
    models,
    auth,
    byName: (type) => byName.get(type),
    byCollection: (collection) => byCollection.get(collection),
    bySubscription: (field) => bySubscription.get(field),
  }
}
