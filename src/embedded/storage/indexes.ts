/**
 * Secondary index metadata and unique-key enforcement. Only unique indexes keep entries (canonical key tuple
 * → `_id` key); other indexes are catalog entries that listIndexes reports.
 */
import type { Document } from 'bson'
import { canonicalKey } from '../bson-values.js'
import { ErrorCode, mongoError } from '../errors.js'
import type { MongoCommandError } from '../types.js'
import { compileFilter } from './query.js'
import { renderValue } from './render.js'

export interface IndexSpec {
  readonly v: number
  readonly key: Document
  readonly name: string
  readonly unique?: boolean
  readonly sparse?: boolean
  readonly partialFilterExpression?: Document
  readonly [option: string]: unknown
}

export interface UniqueIndex {
  readonly spec: IndexSpec
  readonly entries: Map<string, string>
  readonly applies: (doc: Document) => boolean
}

export const ID_INDEX: IndexSpec = { v: 2, key: { _id: 1 }, name: '_id_' }

/** Index name MongoDB derives from a key pattern: `a_1_b_-1`. */
export function defaultIndexName(key: Document): string {
  return Object.entries(key)
    .map(([field, dir]) => `${field}_${String(typeof dir === 'object' ? Number(dir) : dir)}`)
    .join('_')
}

function pathValues(doc: unknown, path: string[], at = 0): unknown[] {
  if (at === path.length) return Array.isArray(doc) ? (doc.length ? doc : [undefined]) : [doc]
  if (Array.isArray(doc)) {
    const index = /^\d+$/.test(path[at]) ? Number(path[at]) : undefined
    if (index !== undefined) return pathValues(doc[index], path, at + 1)
    return doc.length ? doc.flatMap((item) => pathValues(item, path, at)) : [undefined]
  }
  if (typeof doc !== 'object' || doc === null) return [undefined]
  return pathValues((doc as Document)[path[at]], path, at + 1)
}

/** Every key tuple a document contributes to an index (several when a field holds an array). */
export function indexKeys(spec: IndexSpec, doc: Document): Array<{ canonical: string; values: unknown[] }> | undefined {
  const fields = Object.keys(spec.key)
  const perField = fields.map((field) => pathValues(doc, field.split('.')))
  if (spec.sparse && perField.every((values) => values.every((v) => v === undefined))) return undefined
  let tuples: unknown[][] = [[]]
  for (const values of perField) {
    const unique = new Map(values.map((v) => [canonicalKey(v), v]))
    tuples = tuples.flatMap((tuple) => [...unique.values()].map((v) => [...tuple, v]))
  }
  return tuples.map((values) => ({ canonical: values.map(canonicalKey).join('|'), values }))
}

export function createUniqueIndex(spec: IndexSpec): UniqueIndex {
  const partial = spec.partialFilterExpression ? compileFilter(spec.partialFilterExpression) : undefined
  return { spec, entries: new Map(), applies: (doc) => !partial || partial(doc) }
}

export function duplicateKeyError(ns: string, spec: IndexSpec, values: unknown[]): MongoCommandError {
  const keyPattern: Document = {}
  const keyValue: Document = {}
  const fields = Object.keys(spec.key)
  fields.forEach((field, i) => {
    keyPattern[field] = spec.key[field]
    keyValue[field] = values[i] === undefined ? null : values[i]
  })
  const shown = fields.map((field) => `${field}: ${renderValue(keyValue[field])}`).join(', ')
  const error = mongoError(
    ErrorCode.DuplicateKey,
    `E11000 duplicate key error collection: ${ns} index: ${spec.name} dup key: { ${shown} }`,
  )
  return Object.assign(error, { keyPattern, keyValue })
}
