import { getVariableValues, Kind, parse, validate, type GraphQLSchema, type OperationDefinitionNode } from 'graphql'
import { getArgumentValues } from 'graphql/execution/values.js'
import type { Document } from 'mongodb'
import { badUserInput } from '../../errors.js'
import { compileOrderFilter, compileUserFilter, type CompiledFilter } from '../../streams/filter-compiler.js'
import type { GraphQLContext } from '../context.js'

export interface SubscriptionPlan {
  readonly streamKey: string
  readonly collection: string
  readonly pipeline: Document[]
  readonly filterRunsIn: 'MONGODB' | 'GATEWAY'
}

const MAX_QUERY_LENGTH = 10_000

/** Compiles a subscription document the way subscribing would, without subscribing. */
export function planSubscription(schema: GraphQLSchema, query: string, variables: unknown, ctx: GraphQLContext): SubscriptionPlan {
  if (query.length > MAX_QUERY_LENGTH) throw badUserInput('query is too long')
  let document
  try {
    document = parse(query, { maxTokens: 2000 })
  } catch {
    throw badUserInput('query is not a valid GraphQL document')
  }
  const errors = validate(schema, document)
  if (errors.length > 0) throw badUserInput(`query is invalid: ${errors[0].message}`)
  const operation = document.definitions.find(
    (d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION && d.operation === 'subscription',
  )
  if (!operation) throw badUserInput('query must contain a subscription operation')
  const field = operation.selectionSet.selections.find((s) => s.kind === Kind.FIELD)
  const subscriptionType = schema.getSubscriptionType()
  const fieldDef = field?.kind === Kind.FIELD ? subscriptionType?.getFields()[field.name.value] : undefined
  if (!field || field.kind !== Kind.FIELD || !fieldDef) throw badUserInput('query must select a subscription field')
  const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], (variables ?? {}) as Record<string, unknown>)
  if (coerced.errors) throw badUserInput(`variables are invalid: ${coerced.errors[0].message}`)
  const args = getArgumentValues(fieldDef, field, coerced.coerced)
  let compiled: CompiledFilter
  if (field.name.value === 'orderChanged') compiled = compileOrderFilter(args.filter as never, ctx.auth.tenant)
  else if (field.name.value === 'userProfileUpdated') compiled = compileUserFilter(args.filter as never, ctx.auth.tenant)
  else throw badUserInput(`${field.name.value} has no change stream plan`)
  return {
    streamKey: ctx.services.registry.streamKey(compiled.collection),
    collection: compiled.collection,
    pipeline: compiled.pipeline,
    filterRunsIn: 'GATEWAY',
  }
}
