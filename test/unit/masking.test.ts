import { execute, GraphQLObjectType, GraphQLSchema, GraphQLString, parse, type ExecutionResult } from 'graphql'
import { compileQuery, isCompiledQuery } from 'graphql-jit'
import { describe, expect, it } from 'vitest'
import { forbidden } from '../../src/errors.js'
import { maskError, toClientJSON } from '../../src/server/masking.js'

const schema = new GraphQLSchema({
  query: new GraphQLObjectType({
    name: 'Query',
    fields: {
      leak: {
        type: GraphQLString,
        resolve: () => {
          throw new Error('connect ECONNREFUSED mongodb://admin:secret@db.internal')
        },
      },
      denied: {
        type: GraphQLString,
        resolve: () => {
          throw forbidden('Not yours')
        },
      },
    },
  }),
})
const document = parse('{\n  leak\n  denied\n}')

/** The same query through graphql-js and compiled by graphql-jit (as shared subscription results run). */
async function bothWays(): Promise<ExecutionResult[]> {
  const compiled = compileQuery(schema, document)
  if (!isCompiledQuery(compiled)) throw new Error('not compiled')
  return [await execute({ schema, document }), await compiled.query(undefined, undefined, undefined)]
}

describe('maskError', () => {
  it('masks internal errors alike for graphql-js and compiled executions, keeping their locations and paths', async () => {
    for (const result of await bothWays()) {
      const sent = result.errors!.map((error) => toClientJSON(maskError(error)))
      expect(sent).toEqual([
        { message: 'Internal server error', locations: [{ line: 2, column: 3 }], path: ['leak'], extensions: { code: 'INTERNAL_SERVER_ERROR' } },
        { message: 'Not yours', locations: [{ line: 3, column: 3 }], path: ['denied'], extensions: { code: 'FORBIDDEN' } },
      ])
      expect(JSON.stringify(sent)).not.toContain('secret')
    }
  })

  it('is idempotent', async () => {
    const [result] = await bothWays()
    for (const error of result.errors!) {
      const once = maskError(error)
      expect(maskError(once)).toBe(once)
    }
  })
})
