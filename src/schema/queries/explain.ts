import { getVariableValues, Kind, parse, validate, type GraphQLSchema, type OperationDefinitionNode } from 'graphql'
import { getArgumentValues } from 'graphql/execution/values.js'
import type { Document } from 'mongodb'
import { badUserInput } from '../../errors.js'
import { historyPipeline } from '../../mongo/history.js'
import { compileChangeFilter } from '../../streams/filters/compiler.js'
import type { GraphQLContext } from '../context.js'

export interface SubscriptionPlan {
  readonly streamKey: string
  readonly collection: string
  /** The subscription's compiled filter, as change stream `$match` stages (tenant included). */
  readonly pipeline: Document[]
  /** Where the live filter runs: the shared stream reads every change once, the gateway filters per distinct filter. */
  readonly filterRunsIn: 'MONGODB' | 'GATEWAY'
  /** The pipeline of the shared change stream the subscription joins. */
  readonly streamPipeline: Document[]
  /** What a catch-up (`after:`, or a subscriber that fell behind) sends to MongoDB. */
  readonly catchUpPipeline: Document[]
  /** Other subscriptions of this node with the same tenant and pipeline, evaluated once per event with it. */
  readonly sharedWith: number
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
  const model = ctx.services.models.bySubscription(field.name.value)
  if (!model) throw badUserInput(`${field.name.value} has no change stream plan`)
  const compiled = compileChangeFilter(model, args.filter, ctx.auth.tenant)
  return {
    streamKey: ctx.services.registry.streamKey(compiled.collection),
    collection: compiled.collection,
    pipeline: compiled.pipeline,
    filterRunsIn: 'GATEWAY',
    streamPipeline: ctx.services.registry.streamPipeline(compiled.collection),
    catchUpPipeline: historyPipeline(compiled.pipeline),
    sharedWith: ctx.services.registry.sharing(compiled),
  }
}
