import SchemaBuilder from '@pothos/core'
import type { GraphQLContext } from './context.js'

export interface TypeParams {
  Context: GraphQLContext
  DefaultFieldNullability: false
  Scalars: {
    ID: { Input: string; Output: string }
    DateTime: { Input: Date; Output: Date }
    JSON: { Input: unknown; Output: unknown }
    Cursor: { Input: string; Output: string }
  }
}

/** A fresh Pothos builder: every configuration gets a schema of its own. */
export function createBuilder() {
  const builder = new SchemaBuilder<TypeParams>({ defaultFieldNullability: false })
  builder.queryType({ description: 'Reads: documents of the configured models, positions, and (scope `admin`) operations.' })
  builder.subscriptionType({
    description:
      'Live changes, one field per configured model. Each event carries a `cursor`; subscribing again with `after:` that cursor continues right after it, with no gap and no duplicate.',
  })
  return builder
}

export type Builder = ReturnType<typeof createBuilder>

/** Pothos' resolved schema types of {@link TypeParams}. */
export type Types = PothosSchemaTypes.ExtendDefaultTypes<TypeParams>
