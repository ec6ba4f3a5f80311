/** Selecting stored records: `_id` lookups without scans, filtering, sort, skip and limit. */
import type { Document } from 'bson'
import { toLoose } from '../bson-values.js'
import type { Collection } from './collection.js'
import { equalityValues } from './indexes.js'
import { compileFilter, idKeysOf, isIdOnly, sortRecords, type StoredRecord } from './query.js'

export interface SelectOptions {
  readonly sort?: Document
  readonly skip?: number
  /** 0 or undefined: no limit. */
  readonly limit?: number
}

/**
 * Records with the given `_id` keys, or every record in natural order. Keys from the `_id` index are read in
 * `_id` order; keys from a secondary index in the order the index holds them.
 */
export function candidates(coll: Collection, keys: Iterable<string> | undefined, byId = true): Iterable<StoredRecord> {
  if (!keys) return coll.records.values()
  const out: StoredRecord[] = []
  for (const key of keys) {
    const rec = coll.records.get(key)
    if (rec) out.push(rec)
  }
  return byId && out.length > 1 ? sortRecords(out, { _id: 1 }) : out
}

/** `_id` keys of the documents a secondary index gives for an equality on its first field, if any index does. */
function indexedKeys(coll: Collection, filter: Document | undefined): Iterable<string> | undefined {
  if (!filter || coll.lookups.length === 0) return undefined
  for (const lookup of coll.lookups) {
    const values = equalityValues(filter, lookup.field)
    if (!values) continue
    if (values.length === 1) return lookup.entries.get(values[0]) ?? []
    const keys = new Set<string>()
    for (const value of values) for (const key of lookup.entries.get(value) ?? []) keys.add(key)
    return keys
  }
  return undefined
}

export function selectRecords(coll: Collection | undefined, filter: Document | undefined, options: SelectOptions = {}): StoredRecord[] {
  if (!coll) {
    compileFilter(filter)
    return []
  }
  const ids = idKeysOf(filter)
  const keys = ids ?? indexedKeys(coll, filter)
  // An `_id`-only filter is fully answered by the key lookup.
  const matches = ids && isIdOnly(filter) ? () => true : compileFilter(filter)
  const skip = options.skip ?? 0
  const limit = options.limit ?? 0
  const natural = options.sort ? toLoose(options.sort.$natural) : undefined
  if (natural === -1) {
    // Reverse natural order: the newest documents first.
    const all = [...candidates(coll, keys, ids !== undefined)].reverse().filter((rec) => matches(rec.doc, rec.wrapped))
    return all.slice(skip, limit > 0 ? skip + limit : undefined)
  }
  const sorted = natural === undefined && options.sort && Object.keys(options.sort).length > 0
  const stopAt = !sorted && limit > 0 ? skip + limit : Infinity
  let out: StoredRecord[] = []
  for (const rec of candidates(coll, keys, ids !== undefined)) {
    if (!matches(rec.doc, rec.wrapped)) continue
    out.push(rec)
    if (out.length >= stopAt) break
  }
  if (sorted) out = sortRecords(out, options.sort!)
  if (skip > 0 || limit > 0) out = out.slice(skip, limit > 0 ? skip + limit : undefined)
  return out
}
