import { GraphQLError, Kind, valueFromASTUntyped } from 'graphql'
import type { Builder } from '../builder.js'

export function addScalars(builder: Builder): void {
  builder.scalarType('DateTime', {
    description: 'An instant as an ISO-8601 string in UTC, e.g. `2026-01-31T12:00:00.000Z`',
    serialize: (value) => (value instanceof Date ? value : new Date(value as string)).toISOString(),
    parseValue: (value) => {
      const date = new Date(value as string)
      if (typeof value !== 'string' || Number.isNaN(date.getTime())) throw new GraphQLError('DateTime must be an ISO-8601 string')
      return date
    },
    parseLiteral: (ast) => {
      const date = ast.kind === Kind.STRING ? new Date(ast.value) : undefined
      if (!date || Number.isNaN(date.getTime())) throw new GraphQLError('DateTime must be an ISO-8601 string')
      return date
    },
  })

  builder.scalarType('JSON', {
    description:
      'Any JSON value. MongoDB values appear as relaxed Extended JSON: numbers plain, dates as `{"$date": …}`, ObjectIds as `{"$oid": …}`, and enum fields with their stored value (e.g. `"shipped"`), not the GraphQL name',
    serialize: (value) => value,
    parseValue: (value) => value,
    parseLiteral: (ast) => valueFromASTUntyped(ast),
  })

  builder.scalarType('Cursor', {
    description:
      'An opaque, tamper-evident position in the change history, bound to your tenant. Pass it as `after:` to a subscription to receive everything committed after it. A cursor older than the history MongoDB retains fails with CURSOR_EXPIRED; a forged, malformed or foreign one with INVALID_CURSOR',
    serialize: (value) => value,
    parseValue: (value) => {
      if (typeof value !== 'string') throw new GraphQLError('Cursor must be a string')
      return value
    },
    parseLiteral: (ast) => {
      if (ast.kind !== Kind.STRING) throw new GraphQLError('Cursor must be a string')
      return ast.value
    },
  })
}
