import SchemaBuilder from '@pothos/core'
import type { GraphQLContext } from './context.js'

export const builder = new SchemaBuilder<{
  Context: GraphQLContext
  DefaultFieldNullability: false
  Scalars: {
    ID: { Input: string; Output: string }
    DateTime: { Input: Date; Output: Date }
    JSON: { Input: unknown; Output: unknown }
    Cursor: { Input: string; Output: string }
  }
}>({ defaultFieldNullability: false })

builder.queryType({})
builder.subscriptionType({})
