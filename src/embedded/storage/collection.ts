/**
 * One collection: documents in natural (insertion) order keyed by canonical `_id`, plus its indexes.
 * Records are immutable; a write swaps in a new record. Unique indexes are checked before anything changes.
 */
import { UUID, type Document } from 'bson'
import { canonicalKey } from '../bson-values.js'
import { ErrorCode, mongoError } from '../errors.js'
import type { Namespace } from '../types.js'
import {
  createFieldLookup,
  createUniqueIndex,
  duplicateKeyError,
  ID_INDEX,
  indexKeys,
  updateLookup,
  type FieldLookup,
  type IndexSpec,
  type UniqueIndex,
} from './indexes.js'
import type { StoredRecord } from './query.js'

export interface Collection {
  /** Replaced (never mutated) by a rename. */
  ns: Namespace
  readonly uuid: UUID
  /** Options as given to `create` (echoed by listCollections). */
  options: Document
  readonly records: Map<string, StoredRecord>
  /** Every index, `_id_` first. */
  readonly indexes: IndexSpec[]
  readonly unique: UniqueIndex[]
  /** Equality lookups, one per non-partial secondary index. */
  readonly lookups: FieldLookup[]
  readonly preAndPostImages: boolean
}

export function createCollection(ns: Namespace, options: Document = {}, uuid: UUID = new UUID()): Collection {
  return {
    ns,
    uuid,
    options,
    records: new Map(),
    indexes: [ID_INDEX],
    unique: [],
    lookups: [],
    get preAndPostImages() {
      const images = this.options.changeStreamPreAndPostImages as Document | undefined
      return images?.enabled === true
    },
  }
}

export const nsString = (ns: Namespace) => `${ns.db}.${ns.coll}`

export const idKeyOf = (doc: Document) => canonicalKey(doc._id)

/**
 * Throws E11000 if `doc` (whose canonical `_id` key is `key`) would collide with another document (other than
 * the one with `selfKey`).
 */
function checkUnique(coll: Collection, doc: Document, key: string, selfKey?: string): void {
  if (key !== selfKey && coll.records.has(key)) {
    throw duplicateKeyError(nsString(coll.ns), ID_INDEX, [doc._id])
  }
  for (const index of coll.unique) {
    if (!index.applies(doc)) continue
    for (const entry of indexKeys(index.spec, doc) ?? []) {
      const owner = index.entries.get(entry.canonical)
      if (owner !== undefined && owner !== selfKey) throw duplicateKeyError(nsString(coll.ns), index.spec, entry.values)
    }
  }
}

function indexAdd(coll: Collection, key: string, doc: Document) {
  for (const index of coll.unique) {
    if (!index.applies(doc)) continue
    for (const entry of indexKeys(index.spec, doc) ?? []) index.entries.set(entry.canonical, key)
  }
}

function indexRemove(coll: Collection, key: string, doc: Document) {
  for (const index of coll.unique) {
    if (!index.applies(doc)) continue
    for (const entry of indexKeys(index.spec, doc) ?? []) {
      if (index.entries.get(entry.canonical) === key) index.entries.delete(entry.canonical)
    }
  }
}

/** Adds a new record (unique constraints checked); `key` is its canonical `_id` key, when the caller has it. */
export function putNew(coll: Collection, rec: StoredRecord, key: string = idKeyOf(rec.doc)): void {
  checkUnique(coll, rec.doc, key)
  coll.records.set(key, rec)
  indexAdd(coll, key, rec.doc)
  for (const lookup of coll.lookups) updateLookup(lookup, key, undefined, rec.doc)
}

/** Replaces the record stored under `key`, keeping its natural-order position. */
export function putReplacement(coll: Collection, key: string, rec: StoredRecord): void {
  const old = coll.records.get(key)
  if (!old) throw mongoError(ErrorCode.InternalError, 'document vanished during update')
  checkUnique(coll, rec.doc, idKeyOf(rec.doc), key)
  indexRemove(coll, key, old.doc)
  coll.records.set(key, rec)
  indexAdd(coll, key, rec.doc)
  for (const lookup of coll.lookups) updateLookup(lookup, key, old.doc, rec.doc)
}

export function removeRecord(coll: Collection, key: string): StoredRecord | undefined {
  const old = coll.records.get(key)
  if (!old) return undefined
  coll.records.delete(key)
  indexRemove(coll, key, old.doc)
  for (const lookup of coll.lookups) updateLookup(lookup, key, old.doc, undefined)
  return old
}

/** Adds an index; a unique one is built over the current documents first (fails with E11000 on duplicates). */
export function addIndex(coll: Collection, spec: IndexSpec): void {
  if (spec.unique) {
    const index = createUniqueIndex(spec)
    for (const [key, rec] of coll.records) {
      if (!index.applies(rec.doc)) continue
      for (const entry of indexKeys(spec, rec.doc) ?? []) {
        const owner = index.entries.get(entry.canonical)
        if (owner !== undefined && owner !== key) throw duplicateKeyError(nsString(coll.ns), spec, entry.values)
        index.entries.set(entry.canonical, key)
      }
    }
    coll.unique.push(index)
  }
  const lookup = createFieldLookup(spec)
  if (lookup) {
    for (const [key, rec] of coll.records) updateLookup(lookup, key, undefined, rec.doc)
    coll.lookups.push(lookup)
  }
  coll.indexes.push(spec)
}

export function removeIndex(coll: Collection, name: string): void {
  const at = coll.indexes.findIndex((spec) => spec.name === name)
  if (at >= 0) coll.indexes.splice(at, 1)
  const u = coll.unique.findIndex((index) => index.spec.name === name)
  if (u >= 0) coll.unique.splice(u, 1)
  const l = coll.lookups.findIndex((lookup) => lookup.spec.name === name)
  if (l >= 0) coll.lookups.splice(l, 1)
}

/** Swaps the catalog entry of an index for a modified one (collMod: TTL, hidden). */
export function replaceIndexSpec(coll: Collection, at: number, spec: IndexSpec): void {
  const old = coll.indexes[at]
  coll.indexes[at] = spec
  for (const list of [coll.unique, coll.lookups] as Array<Array<{ spec: IndexSpec }>>) {
    const i = list.findIndex((entry) => entry.spec === old)
    if (i >= 0) list[i] = { ...list[i], spec }
  }
}
