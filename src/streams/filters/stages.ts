import { EJSON } from 'bson'
import type { Document } from 'mongodb'

/** Canonical `$match` stages on change events, shared by every model's compiled filter. */

/** Change event operation types in MongoDB's spelling, in canonical (sorted) order. */
export type MongoOperationType = 'delete' | 'insert' | 'replace' | 'update'
export const ALL_OPERATION_TYPES: readonly MongoOperationType[] = ['delete', 'insert', 'replace', 'update']
export const TOUCHING_OPERATION_TYPES: readonly MongoOperationType[] = ['replace', 'update']

export const operationTypeStage = (types: readonly MongoOperationType[]): Document => ({
  $match: { operationType: { $in: [...types] } },
})

/** A document's tenant is its post-image's, or its pre-image's (deletes, and the old side of a tenant change). */
export const tenantStage = (tenantField: string, tenant: string): Document => ({
  $match: {
    $or: [{ [`fullDocument.${tenantField}`]: { $eq: tenant } }, { [`fullDocumentBeforeChange.${tenantField}`]: { $eq: tenant } }],
  },
})

const LOGICAL = new Set(['$and', '$or', '$nor'])

/** A query on the document, rewritten to apply under `prefix` (logical operators are rewritten inside). */
export function prefixed(prefix: string, query: Document): Document {
  const out: Document = {}
  for (const [key, value] of Object.entries(query)) {
    if (LOGICAL.has(key)) out[key] = (value as Document[]).map((q) => prefixed(prefix, q))
    else out[`${prefix}.${key}`] = value
  }
  return out
}

/**
 * The document filter on either image, so LEFT transitions (matched before only) reach the gateway, which then
 * decides ENTERED / UPDATED / LEFT from both images.
 */
export const documentStage = (documentFilter: Document): Document => ({
  $match: { $or: [prefixed('fullDocument', documentFilter), prefixed('fullDocumentBeforeChange', documentFilter)] },
})

/** Updates setting top-level `field` to one of `values`, and replaces whose new value is one of them. */
export const changedToStage = (field: string, values: readonly unknown[]): Document => ({
  $match: {
    $or: [
      { operationType: 'update', [`updateDescription.updatedFields.${field}`]: { $in: [...values] } },
      { operationType: 'replace', [`fullDocument.${field}`]: { $in: [...values] } },
    ],
  },
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
