import type { Document } from 'mongodb'
import { USER_PROFILE_FIELDS, type CompiledFilter, type UserProfileFilter } from './filter-compiler.js'
import {
  ALL_OPERATION_TYPES,
  checkFilterObject,
  checkTenant,
  compiled,
  enumList,
  objectIdArgument,
  operationTypeStage,
  tenantStage,
  TOUCHING_OPERATION_TYPES,
  touchedFieldsStage,
} from './filter-stages.js'

/**
 * Compiles a `userProfileUpdated` filter for `tenant`: operation types (all four; update and replace when
 * `fields` is given), the tenant, `documentKey._id` for `userId`, and the touched-fields test for `fields`
 * (EMAIL → `email`, NAME → `name`, ...). A user's `_id` never changes, so `userId` constrains the event, not the
 * document: the document filter stays `{}` and `userId` becomes the `_id` index key.
 */
export function compileUserFilter(filter: UserProfileFilter | null | undefined, tenant: string): CompiledFilter {
  const f = checkFilterObject(filter)
  checkTenant(tenant)
  const userId = objectIdArgument('userId', f.userId)
  const fields = enumList('fields', f.fields, USER_PROFILE_FIELDS)

  const pipeline: Document[] = [
    operationTypeStage(fields ? TOUCHING_OPERATION_TYPES : ALL_OPERATION_TYPES),
    tenantStage(tenant),
  ]
  if (userId) pipeline.push({ $match: { 'documentKey._id': { $eq: userId } } })
  if (fields) pipeline.push(touchedFieldsStage(fields))

  const indexKeys: Record<string, string> = userId ? { _id: userId.toHexString() } : {}
  return compiled('users', tenant, pipeline, {}, indexKeys)
}
