import type { Document } from 'mongodb'
import { badUserInput } from '../errors.js'
import {
  ORDER_STATUSES,
  OPERATION_TYPES,
  type CompiledFilter,
  type OrderChangeFilter,
} from './filter-compiler.js'
import {
  ALL_OPERATION_TYPES,
  checkFilterObject,
  checkTenant,
  compiled,
  documentStage,
  enumList,
  fieldNameList,
  numberArgument,
  objectIdArgument,
  operationTypeStage,
  stringArgument,
  tenantStage,
  TOUCHING_OPERATION_TYPES,
  touchedFieldsStage,
  type MongoOperationType,
} from './filter-stages.js'

export const MAX_REGION_LENGTH = 128

/**
 * Compiles an `orderChanged` filter for `tenant`. Stages, in this order, each present only when needed (the
 * first two always):
 *
 * 1. `operationType` in the allowed types (narrowed by `operationTypes`, and to update/replace by
 *    `statusChangedTo` or `fieldsChanged`);
 * 2. the tenant, on the post-image or the pre-image;
 * 3. the document filter (`status`, `minTotal`/`maxTotal`, `customerId`, `region`) on either image;
 * 4. `statusChangedTo`: updates setting status to one of them, replaces whose new status is one of them;
 * 5. `fieldsChanged`: updates touching one of the top-level fields, and replaces.
 *
 * Throws BAD_USER_INPUT (naming the argument) for empty lists, unknown enum values, invalid ids, non-finite or
 * crossed bounds, over-long strings and filters that can select no operation at all.
 */
export function compileOrderFilter(filter: OrderChangeFilter | null | undefined, tenant: string): CompiledFilter {
  const f = checkFilterObject(filter)
  checkTenant(tenant)

  const requested = enumList('operationTypes', f.operationTypes, OPERATION_TYPES)
  const status = enumList('status', f.status, ORDER_STATUSES)
  const minTotal = numberArgument('minTotal', f.minTotal)
  const maxTotal = numberArgument('maxTotal', f.maxTotal)
  if (minTotal !== undefined && maxTotal !== undefined && minTotal > maxTotal) {
    throw badUserInput('minTotal must not be greater than maxTotal')
  }
  const customerId = objectIdArgument('customerId', f.customerId)
  const region = stringArgument('region', f.region, MAX_REGION_LENGTH)
  const statusChangedTo = enumList('statusChangedTo', f.statusChangedTo, ORDER_STATUSES)
  const fieldsChanged = fieldNameList('fieldsChanged', f.fieldsChanged)

  let types: readonly MongoOperationType[] = ALL_OPERATION_TYPES
  if (requested) types = types.filter((t) => requested.includes(t))
  if (statusChangedTo || fieldsChanged) types = types.filter((t) => TOUCHING_OPERATION_TYPES.includes(t))
  if (types.length === 0) {
    const given = statusChangedTo ? 'statusChangedTo' : 'fieldsChanged' // named as the request wrote it, nothing more
    throw badUserInput(`operationTypes selects no operation that ${given} can match (only updates and replaces change fields)`)
  }

  const documentFilter: Document = {}
  if (status) documentFilter.status = { $in: status }
  if (minTotal !== undefined || maxTotal !== undefined) {
    const range: Document = {}
    if (minTotal !== undefined) range.$gte = minTotal
    if (maxTotal !== undefined) range.$lte = maxTotal
    documentFilter.totalAmount = range
  }
  if (customerId) documentFilter.customerId = { $eq: customerId }
  if (region !== undefined) documentFilter.region = { $eq: region }

  const pipeline: Document[] = [operationTypeStage(types), tenantStage(tenant)]
  if (Object.keys(documentFilter).length > 0) pipeline.push(documentStage(documentFilter))
  if (statusChangedTo) {
    pipeline.push({
      $match: {
        $or: [
          { operationType: 'update', 'updateDescription.updatedFields.status': { $in: statusChangedTo } },
          { operationType: 'replace', 'fullDocument.status': { $in: statusChangedTo } },
        ],
      },
    })
  }
  if (fieldsChanged) pipeline.push(touchedFieldsStage(fieldsChanged))

  const indexKeys: Record<string, string> = customerId ? { customerId: customerId.toHexString() } : {}
  return compiled('orders', tenant, pipeline, documentFilter, indexKeys)
}
