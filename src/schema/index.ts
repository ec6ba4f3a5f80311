import type { GraphQLSchema } from 'graphql'
import type { ModelRegistry } from '../models/index.js'
import { ConfigFileError } from '../models/index.js'
import { createBuilder } from './builder.js'
import { addModelAggregates } from './models/aggregates.js'
import { addModelEvents } from './models/events.js'
import { addModelInputs } from './models/inputs.js'
import { addModelOperations } from './models/operations.js'
import { addModelTypes } from './models/outputs.js'
import { addOperations } from './queries/operations.js'
import { addCommonTypes } from './types/common.js'
import { addScalars } from './types/scalars.js'

/**
 * The GraphQL schema of a configuration: for every model its type, change event, filters, subscription and
 * queries, plus the operational queries. Throws {@link ConfigFileError} when the configuration's names collide.
 */
export function buildSchema(models: ModelRegistry): GraphQLSchema {
  const builder = createBuilder()
  addScalars(builder)
  const common = addCommonTypes(builder)
  const types = addModelTypes(builder, models)
  const inputs = addModelInputs(builder, models, types, common)
  const eventOf = addModelEvents(builder, models, types, common)
  addModelOperations(builder, models, types, inputs, eventOf)
  addModelAggregates(builder, models, types, inputs)
  addOperations(builder)
  try {
    return builder.toSchema({ sortSchema: false })
  } catch (error) {
    throw new ConfigFileError(`configuration: the generated schema is invalid (${(error instanceof Error ? error.message : String(error)).split('\n')[0]})`)
  }
}
