/**
 * Secondary indexes: unique-key enforcement (canonical key tuple → `_id` key) and equality lookups on each
 * index's first field (canonical value → `_id` keys), which find uses instead of a scan.
 */
import type { Document } from 'bson'
import { canonicalKey } from '../bson-values.js'
import { ErrorCode, mongoError } from '../errors.js'
import type { MongoCommandError } from '../types.js'
import { dateOfValue, type DateHeap } from './date-heap.js'
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

/** Equality lookups on the first field of a (non-partial) index: canonical value → `_id` keys, in insertion order. */
export interface FieldLookup {
  readonly spec: IndexSpec
  readonly field: string
  readonly entries: Map<string, Set<string>>
  /** The date values by time, kept once the TTL pass asked for them (TTL indexes). */
  dates?: DateHeap
}

export function createFieldLookup(spec: IndexSpec): FieldLookup | undefined {
  if (spec.partialFilterExpression) return undefined
  return { spec, field: Object.keys(spec.key)[0], entries: new Map() }
}

/** The canonical values a document holds at the lookup's field (array elements each; missing: none). */
export function lookupValues(lookup: FieldLookup, doc: Document): Set<string> {
  const out = new Set<string>()
  for (const v of pathValues(doc, lookup.field.split('.'))) if (v !== undefined) out.add(canonicalKey(v))
  return out
}

/** Moves `key` from the entries of `before` to those of `after`, touching only values that changed. */
export function updateLookup(lookup: FieldLookup, key: string, before: Document | undefined, after: Document | undefined): void {
  const old = before ? lookupValues(lookup, before) : new Set<string>()
  const next = after ? lookupValues(lookup, after) : new Set<string>()
  for (const value of old) {
    if (next.has(value)) continue
    const keys = lookup.entries.get(value)
    keys?.delete(key)
    if (keys?.size === 0) lookup.entries.delete(value)
  }
  for (const value of next) {
    if (old.has(value)) continue
    let keys = lookup.entries.get(value)
    if (!keys) {
      lookup.entries.set(value, (keys = new Set()))
      const ms = lookup.dates ? dateOfValue(value) : undefined
      if (ms !== undefined) lookup.dates!.push({ ms, value })
    }
    keys.add(key)
  }
}

/** A value an index answers by equality: not an array, regex, null or operator document. */
function isLookupValue(v: unknown): boolean {
  if (v === null || v === undefined || Array.isArray(v) || v instanceof RegExp) return false
  if (typeof v === 'object' && (v as { _bsontype?: string })._bsontype === undefined && !(v instanceof Date)) {
    return !Object.keys(v as Document).some((k) => k.startsWith('$'))
  }
  return true
}

/** The canonical values a filter pins `field` to (`v`, `{$eq: v}`, `{$in: [...]}`), or undefined. */
export function equalityValues(filter: Document, field: string): string[] | undefined {
  if (!Object.prototype.hasOwnProperty.call(filter, field)) return undefined
  const cond: unknown = filter[field]
  if (isLookupValue(cond)) return [canonicalKey(cond)]
  if (typeof cond !== 'object' || cond === null) return undefined
  const ops = Object.keys(cond)
  if (ops.length !== 1) return undefined
  const c = cond as Document
  if (ops[0] === '$eq' && isLookupValue(c.$eq)) return [canonicalKey(c.$eq)]
  if (ops[0] === '$in' && Array.isArray(c.$in) && c.$in.every(isLookupValue)) return [...new Set(c.$in.map(canonicalKey))]
  return undefined
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
