/** Selecting stored records: `_id` lookups without scans, filtering, sort, skip and limit. */
import type { Document } from 'bson'
import { toLoose } from '../bson-values.js'
import type { Collection } from './collection.js'
import { compileFilter, idKeysOf, isIdOnly, sortRecords, type StoredRecord } from './query.js'

export interface SelectOptions {
  readonly sort?: Document
  readonly skip?: number
  /** 0 or undefined: no limit. */
  readonly limit?: number
}

/** Records with the given `_id` keys (see idKeysOf), or every record in natural order. */
export function candidates(coll: Collection, keys: string[] | undefined): Iterable<StoredRecord> {
  if (!keys) return coll.records.values()
  const out: StoredRecord[] = []
  for (const key of keys) {
    const rec = coll.records.get(key)
    if (rec) out.push(rec)
  }
  // Several ids are read through the _id index, so in _id order.
  return out.length > 1 ? sortRecords(out, { _id: 1 }) : out
}

export function selectRecords(coll: Collection | undefined, filter: Document | undefined, options: SelectOptions = {}): StoredRecord[] {
  if (!coll) {
    compileFilter(filter)
    return []
  }
  const keys = idKeysOf(filter)
  // An `_id`-only filter is fully answered by the key lookup.
  const matches = keys && isIdOnly(filter) ? () => true : compileFilter(filter)
  const skip = options.skip ?? 0
  const limit = options.limit ?? 0
  const natural = options.sort ? toLoose(options.sort.$natural) : undefined
  if (natural === -1) {
    // Reverse natural order: the newest documents first.
    const all = [...candidates(coll, keys)].reverse().filter((rec) => matches(rec.doc, rec.wrapped))
    return all.slice(skip, limit > 0 ? skip + limit : undefined)
  }
  const sorted = natural === undefined && options.sort && Object.keys(options.sort).length > 0
  const stopAt = !sorted && limit > 0 ? skip + limit : Infinity
  let out: StoredRecord[] = []
  for (const rec of candidates(coll, keys)) {
    if (!matches(rec.doc, rec.wrapped)) continue
    out.push(rec)
    if (out.length >= stopAt) break
  }
  if (sorted) out = sortRecords(out, options.sort!)
  if (skip > 0 || limit > 0) out = out.slice(skip, limit > 0 ? skip + limit : undefined)
  return out
}
