import { readFileSync } from 'node:fs'
import { generate } from '@graphql-codegen/cli'
import { buildSchema, GraphQLEnumType, GraphQLInputObjectType, GraphQLObjectType } from 'graphql'
import { describe, expect, it } from 'vitest'
import codegenConfig from '../../codegen.js'
import { printedSchema } from '../../src/schema/print.js'

describe('published contract', () => {
  it('schema/schema.graphql is the schema the demo configuration builds (run `npm run schema:print -- --out schema/schema.graphql` after a change)', () => {
    expect(readFileSync('schema/schema.graphql', 'utf8')).toBe(printedSchema())
  })

  it('the typed test documents are generated from the committed schema (run `npm run codegen` after a change)', async () => {
    const outputs = (await generate({ ...codegenConfig, silent: true }, false)) as Array<{ filename: string; content: string }>
    expect(outputs.length).toBeGreaterThan(0)
    for (const output of outputs) expect(readFileSync(output.filename, 'utf8'), output.filename).toBe(output.content)
  }, 30_000)

  it('keeps the contract names of DESIGN §5 (arguments and types; additions allowed)', () => {
    const schema = buildSchema(printedSchema())
    const signature = (root: 'Query' | 'Subscription', name: string) => {
      const type = root === 'Query' ? schema.getQueryType()! : schema.getSubscriptionType()!
      const field = type.getFields()[name]
      return field && { args: Object.fromEntries(field.args.map((a) => [a.name, String(a.type)])), type: String(field.type) }
    }
    expect(signature('Subscription', 'orderChanged')).toEqual({ args: { filter: 'OrderChangeFilter', after: 'Cursor' }, type: 'OrderChangeEvent!' })
    expect(signature('Subscription', 'userProfileUpdated')).toEqual({ args: { filter: 'UserProfileFilter', after: 'Cursor' }, type: 'UserChangeEvent!' })
    expect(signature('Query', 'changeCursor')).toEqual({ args: {}, type: 'Cursor!' })
    expect(signature('Query', 'orders')).toMatchObject({ args: { filter: 'OrderFilter', first: 'Int' }, type: 'OrderPage!' })
    expect(signature('Query', 'order')).toEqual({ args: { id: 'ID!' }, type: 'Order' })
    expect(signature('Query', 'user')).toEqual({ args: { id: 'ID!' }, type: 'User' })
    expect(signature('Query', 'explainSubscription')).toEqual({ args: { query: 'String!', variables: 'JSON' }, type: 'SubscriptionPlan!' })
    expect(signature('Query', 'streams')).toEqual({ args: {}, type: '[StreamStatus!]!' })
    expect(signature('Query', 'gatewayNodes')).toEqual({ args: {}, type: '[GatewayNode!]!' })
    const fieldsOf = (name: string) => Object.keys((schema.getType(name) as GraphQLInputObjectType | GraphQLObjectType).getFields())
    expect(fieldsOf('OrderChangeFilter')).toEqual(
      expect.arrayContaining(['operationTypes', 'status', 'minTotal', 'maxTotal', 'customerId', 'region', 'statusChangedTo', 'fieldsChanged']),
    )
    expect(fieldsOf('UserProfileFilter')).toEqual(expect.arrayContaining(['userId', 'fields']))
    expect(fieldsOf('OrderChangeEvent')).toEqual(
      expect.arrayContaining(['cursor', 'operationType', 'transition', 'clusterTime', 'documentId', 'order', 'orderBefore', 'updatedFields', 'removedFields']),
    )
    expect(fieldsOf('UserChangeEvent')).toEqual(expect.arrayContaining(['cursor', 'operationType', 'clusterTime', 'documentId', 'user', 'changedFields']))
    expect(fieldsOf('Order')).toEqual(
      expect.arrayContaining(['id', 'tenantId', 'status', 'totalAmount', 'currency', 'region', 'items', 'customerId', 'customer', 'createdAt', 'updatedAt']),
    )
  })

  it('describes every type, field, argument and enum value', () => {
    const schema = buildSchema(printedSchema())
    const missing: string[] = []
    for (const type of Object.values(schema.getTypeMap())) {
      if (type.name.startsWith('__') || ['String', 'Int', 'Float', 'Boolean', 'ID'].includes(type.name)) continue
      if (!type.description) missing.push(type.name)
      if (type instanceof GraphQLEnumType) for (const v of type.getValues()) if (!v.description) missing.push(`${type.name}.${v.name}`)
      if (type instanceof GraphQLObjectType || type instanceof GraphQLInputObjectType) {
        for (const field of Object.values(type.getFields())) {
          if (!field.description) missing.push(`${type.name}.${field.name}`)
          for (const arg of 'args' in field ? field.args : []) if (!arg.description) missing.push(`${type.name}.${field.name}(${arg.name})`)
        }
      }
    }
    expect(missing).toEqual([])
  })
})
