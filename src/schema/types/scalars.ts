import { GraphQLError, Kind, valueFromASTUntyped } from 'graphql'
import { builder } from '../builder.js'

builder.scalarType('DateTime', {
  description: 'ISO-8601 date-time',
  serialize: (value) => (value instanceof Date ? value : new Date(value as string)).toISOString(),
  parseValue: (value) => {
    const date = new Date(value as string)
    if (typeof value !== 'string' || Number.isNaN(date.getTime())) throw new GraphQLError('DateTime must be an ISO-8601 string')
    return date
  },
})

builder.scalarType('JSON', {
  description: 'Any JSON value; MongoDB values as relaxed Extended JSON',
  serialize: (value) => value,
  parseValue: (value) => value,
  parseLiteral: (ast) => valueFromASTUntyped(ast),
})

builder.scalarType('Cursor', {
  description: 'Opaque, tamper-evident position in the change history, bound to the tenant',
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
