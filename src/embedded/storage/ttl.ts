/**
 * TTL indexes: a background pass deletes the documents whose indexed date (the earliest, for an array) lies
 * more than `expireAfterSeconds` in the past, through storage, so each deletion is an ordinary delete with
 * its change event. mongod runs this pass every 60 s; the embedded server every second by default.
 * The pass pops expired dates from a heap beside the index (a partial TTL index, which has no lookup, is
 * scanned). A document locked by an open transaction is left for a later pass.
 */
import type { Document } from 'bson'
import { isDocumentLocked } from '../transactions/locks.js'
import type { Collection } from './collection.js'
import { heapOfDates } from './date-heap.js'
import type { FieldLookup, IndexSpec } from './indexes.js'
import type { Storage } from './storage.js'

export interface TtlMonitor {
  /** Runs one pass now; returns the number of documents deleted. */
  pass(now?: Date): number
  stop(): void
}

function earliestDate(doc: Document, path: string[]): number | undefined {
  let values: unknown[] = [doc]
  for (const part of path) {
    values = values.flatMap((v) => {
      const next = v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Document)[part] : undefined
      return Array.isArray(next) ? next : [next]
    })
  }
  let earliest: number | undefined
  for (const v of values) if (v instanceof Date && (earliest === undefined || v.getTime() < earliest)) earliest = v.getTime()
  return earliest
}

const ttlIndexes = (coll: Collection): IndexSpec[] =>
  coll.indexes.filter((spec) => typeof spec.expireAfterSeconds === 'number' && Object.keys(spec.key).length === 1)

function scanExpired(coll: Collection, spec: IndexSpec, cutoff: number): Set<string> {
  const path = Object.keys(spec.key)[0].split('.')
  const expired = new Set<string>()
  for (const [key, rec] of coll.records) {
    const at = earliestDate(rec.doc, path)
    if (at !== undefined && at <= cutoff) expired.add(key)
  }
  return expired
}

function popExpired(lookup: FieldLookup, cutoff: number): Set<string> {
  if (!lookup.dates || lookup.dates.size > 2 * lookup.entries.size + 1024) lookup.dates = heapOfDates(lookup.entries.keys())
  const expired = new Set<string>()
  const heap = lookup.dates
  while ((heap.peek()?.ms ?? Infinity) <= cutoff) {
    const { value } = heap.pop()!
    for (const key of lookup.entries.get(value) ?? []) expired.add(key)
  }
  return expired
}

function expire(storage: Storage, coll: Collection, spec: IndexSpec, now: number): number {
  const cutoff = now - (spec.expireAfterSeconds as number) * 1000
  const lookup = coll.lookups.find((candidate) => candidate.spec.name === spec.name)
  const expired = lookup ? popExpired(lookup, cutoff) : scanExpired(coll, spec, cutoff)
  let deleted = 0
  let locked = false
  for (const key of expired) {
    try {
      if (storage.remove(coll, key)) deleted++
    } catch (error) {
      if (!isDocumentLocked(error)) throw error
      locked = true
    }
  }
  // Popped dates of documents a transaction holds must come back: rebuilding the heap restores them.
  if (locked && lookup) lookup.dates = undefined
  return deleted
}

export function startTtlMonitor(storage: Storage, intervalMs: number): TtlMonitor {
  const pass = (now = new Date()) => {
    let deleted = 0
    for (const db of storage.databases()) {
      for (const coll of storage.collections(db)) {
        for (const spec of ttlIndexes(coll)) deleted += expire(storage, coll, spec, now.getTime())
      }
    }
    return deleted
  }
  const timer = intervalMs > 0 ? setInterval(() => pass(), intervalMs) : undefined
  timer?.unref()
  return {
    pass,
    stop: () => clearInterval(timer),
  }
}
