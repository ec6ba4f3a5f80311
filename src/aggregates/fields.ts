import type { Model, ResolvedField } from '../models/index.js'
import { walkFields } from '../models/field-types.js'
import { constantCase, pascalCase } from '../models/naming.js'

/** A field an aggregate can group by, sum, or window on. */
export interface AggregateField {
  /** Dotted path in the stored document. */
  readonly path: string
  /** GraphQL field name in the key and number types: the path's segments joined in camelCase (`sla.hours` → `slaHours`). */
  readonly name: string
  /** Value in the `<Model>GroupBy` / `<Model>TimeField` enums (`sla.hours` → `SLA_HOURS`). */
  readonly enumValue: string
  readonly field: ResolvedField
}

export interface AggregateFields {
  /** Single-valued strings, ids, booleans, integers and enums, at any depth; not the tenant field. */
  readonly groupable: readonly AggregateField[]
  /** Single-valued `Int` and `Float` fields: `sum`, `avg`, `min`, `max`. */
  readonly numeric: readonly AggregateField[]
  /** Single-valued `DateTime` fields a window can be placed on instead of the change's commit time. */
  readonly time: readonly AggregateField[]
}

const GROUPABLE_SCALARS = new Set(['String', 'ID', 'ObjectId', 'Boolean', 'Int'])

const inList = (model: Model, field: ResolvedField): boolean => {
  // A field below a list of objects holds many values per document.
  const segments = field.path.split('.')
  for (let n = 1; n < segments.length; n++) {
    const prefix = segments.slice(0, n).join('.')
    const parent = [...walkFields(model.fields)].find((f) => f.path === prefix)
    if (parent?.list) return true
  }
  return false
}

const describe = (field: ResolvedField): AggregateField => {
  const segments = field.path.split('.')
  return {
    path: field.path,
    name: segments[0] + segments.slice(1).map(pascalCase).join(''),
    enumValue: constantCase(segments.join('_')),
    field,
  }
}

/** What a model's aggregates can group by, compute and window on, in declaration order. */
export function aggregateFieldsOf(model: Model): AggregateFields {
  const groupable: AggregateField[] = []
  const numeric: AggregateField[] = []
  const time: AggregateField[] = []
  const names = new Set<string>()
  for (const field of walkFields(model.fields)) {
    if (field.kind === 'object' || field.list || inList(model, field) || field.path === model.tenantField) continue
    const described = describe(field)
    // Two paths flattening to one name (`slaHours` and `sla.hours`): the first keeps it.
    if (names.has(described.name)) continue
    names.add(described.name)
    if (field.kind === 'enum' || GROUPABLE_SCALARS.has(field.scalar)) groupable.push(described)
    if (field.kind === 'scalar' && (field.scalar === 'Int' || field.scalar === 'Float')) numeric.push(described)
    if (field.kind === 'scalar' && field.scalar === 'DateTime') time.push(described)
  }
  return { groupable, numeric, time }
}

/** The model's aggregate subscription field: `Order` → `orderAggregate`. */
export const aggregateSubscriptionName = (model: Model): string => `${model.names.single}Aggregate`
