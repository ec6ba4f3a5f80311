import { EJSON } from 'bson'
import { ObjectId, type Document } from 'mongodb'
import { badUserInput } from '../errors.js'
import type { CompiledFilter } from './filter-compiler.js'

/** Building blocks shared by the order and user filter compilers: argument checks and canonical stages. */

export const MAX_LIST_LENGTH = 32
export const MAX_TENANT_LENGTH = 128
export const FIELD_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/
const HEX24 = /^[0-9a-fA-F]{24}$/

/** Change event operation types in MongoDB's spelling, in canonical (sorted) order. */
export type MongoOperationType = 'delete' | 'insert' | 'replace' | 'update'
export const ALL_OPERATION_TYPES: readonly MongoOperationType[] = ['delete', 'insert', 'replace', 'update']
export const TOUCHING_OPERATION_TYPES: readonly MongoOperationType[] = ['replace', 'update']

export function checkFilterObject(filter: unknown): Record<string, unknown> {
  if (filter === null || filter === undefined) return {}
  if (typeof filter !== 'object' || Array.isArray(filter)) throw badUserInput('filter must be an object')
  return filter as Record<string, unknown>
}

/** The tenant comes from a verified token; anything else here is a bug, not client input. */
export function checkTenant(tenant: unknown): string {
  if (typeof tenant !== 'string' || tenant.length === 0 || tenant.length > MAX_TENANT_LENGTH) {
    throw new TypeError('tenant must be a non-empty string of at most 128 characters')
  }
  return tenant
}

/**
 * A list argument: absent (null/undefined) = no constraint; otherwise non-empty, at most 32 entries, each one of
 * `allowed`. Returns the entries mapped through `map`, deduplicated and sorted.
 */
export function enumList<T extends string>(
  name: string,
  value: unknown,
  allowed: readonly T[],
  map: (v: T) => string = (v) => v.toLowerCase(),
): string[] | undefined {
  const list = listArgument(name, value)
  if (!list) return undefined
  for (const entry of list) {
    if (typeof entry !== 'string' || !(allowed as readonly string[]).includes(entry)) {
      throw badUserInput(`${name} entries must be one of ${allowed.join(', ')}`)
    }
  }
  return uniqueSorted((list as T[]).map(map))
}

/** Top-level field names: identifiers only (no `$`, no dots), at most 64 characters each. */
export function fieldNameList(name: string, value: unknown): string[] | undefined {
  const list = listArgument(name, value)
  if (!list) return undefined
  for (const entry of list) {
    if (typeof entry !== 'string' || !FIELD_NAME.test(entry)) {
      throw badUserInput(`${name} entries must be top-level field names matching ${FIELD_NAME.source}`)
    }
  }
  return uniqueSorted(list as string[])
}

function listArgument(name: string, value: unknown): unknown[] | undefined {
  if (value === null || value === undefined) return undefined
  if (!Array.isArray(value)) throw badUserInput(`${name} must be a list`)
  if (value.length === 0) throw badUserInput(`${name} must not be an empty list; omit it for no constraint`)
  if (value.length > MAX_LIST_LENGTH) throw badUserInput(`${name} must have at most ${MAX_LIST_LENGTH} entries`)
  return value
}

const uniqueSorted = (values: string[]) => [...new Set(values)].sort()

export function objectIdArgument(name: string, value: unknown): ObjectId | undefined {
  if (value === null || value === undefined) return undefined
  if (typeof value !== 'string' || !HEX24.test(value)) throw badUserInput(`${name} must be a 24-character hex ObjectId`)
  return ObjectId.createFromHexString(value)
}

export function numberArgument(name: string, value: unknown): number | undefined {
  if (value === null || value === undefined) return undefined
  if (typeof value !== 'number' || !Number.isFinite(value)) throw badUserInput(`${name} must be a finite number`)
  return value === 0 ? 0 : value // -0 and 0 are one filter
}

export function stringArgument(name: string, value: unknown, maxLength: number): string | undefined {
  if (value === null || value === undefined) return undefined
  if (typeof value !== 'string') throw badUserInput(`${name} must be a string`)
  if (value.length > maxLength) throw badUserInput(`${name} must be at most ${maxLength} characters`)
  return value
}

export const operationTypeStage = (types: readonly MongoOperationType[]): Document => ({
  $match: { operationType: { $in: [...types] } },
})

/** A document's tenant is its post-image's, or its pre-image's (deletes, and the old side of a tenant change). */
export const tenantStage = (tenant: string): Document => ({
  $match: {
    $or: [{ 'fullDocument.tenantId': { $eq: tenant } }, { 'fullDocumentBeforeChange.tenantId': { $eq: tenant } }],
  },
})

export function prefixed(prefix: string, query: Document): Document {
  const out: Document = {}
  for (const [key, value] of Object.entries(query)) out[`${prefix}.${key}`] = value
  return out
}

/**
 * The document filter on either image, so LEFT transitions (matched before only) reach the gateway, which then
 * decides ENTERED / UPDATED / LEFT from both images.
 */
export const documentStage = (documentFilter: Document): Document => ({
  $match: { $or: [prefixed('fullDocument', documentFilter), prefixed('fullDocumentBeforeChange', documentFilter)] },
})

/**
 * Updates touching any of `names` (an updated, removed or truncated path whose top-level segment is one of
 * them), and every replace (a replace touches every field). Names are `$literal`s: never field paths or operators.
 */
export function touchedFieldsStage(names: readonly string[]): Document {
  const touchedPaths = {
    $concatArrays: [
      {
        $map: {
          input: { $objectToArray: { $ifNull: ['$updateDescription.updatedFields', { $literal: {} }] } },
          as: 'field',
          in: '$$field.k',
        },
      },
      { $ifNull: ['$updateDescription.removedFields', { $literal: [] }] },
      {
        $map: {
          input: { $ifNull: ['$updateDescription.truncatedArrays', { $literal: [] }] },
          as: 'truncated',
          in: '$$truncated.field',
        },
      },
    ],
  }
  const touchesListed = {
    $gt: [
      {
        $size: {
          $filter: {
            input: touchedPaths,
            as: 'path',
            cond: {
              $in: [{ $arrayElemAt: [{ $split: ['$$path', '.'] }, 0] }, names.map((name) => ({ $literal: name }))],
            },
          },
        },
      },
      0,
    ],
  }
  return {
    $match: {
      $or: [{ operationType: 'update', $expr: touchesListed }, { operationType: 'replace' }],
    },
  }
}

/** Canonical form: EJSON with explicit types, so `1` and `1.5`, ObjectIds and strings never collide. */
export const canonicalize = (pipeline: readonly Document[]): string => EJSON.stringify(pipeline, { relaxed: false })

export function compiled(
  collection: CompiledFilter['collection'],
  tenant: string,
  pipeline: Document[],
  documentFilter: Document,
  indexKeys: Record<string, string>,
): CompiledFilter {
  return { collection, tenant, pipeline, canonical: canonicalize(pipeline), documentFilter, indexKeys }
}
