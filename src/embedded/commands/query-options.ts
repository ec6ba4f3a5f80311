/**
 * `hint` and `collation` of reads and writes. A hint changes no result, so one naming an existing index is
 * accepted and one naming no index fails as MongoDB's planner fails it; a non-simple collation would change
 * results, and the embedded server does not implement collations, so it is refused by name.
 */
import type { Document } from 'bson'
import { canonicalKey, isPlainObject, toLoose } from '../bson-values.js'
import { ErrorCode, mongoError } from '../errors.js'
import type { Collection } from '../storage/collection.js'
import type { Namespace } from '../types.js'
import { notImplemented } from './collection-options.js'

const badHint = (ns: Namespace) =>
  mongoError(
    ErrorCode.BadValue,
    `error processing query: ns=${ns.db}.${ns.coll} planner returned error :: caused by :: hint provided does not correspond to an existing index`,
  )

/** Checks `hint` (an index name, a key pattern or `{ $natural: ±1 }`) against the collection's indexes. */
export function checkHint(coll: Collection | undefined, ns: Namespace, hint: unknown): void {
  if (hint === undefined || hint === null) return
  if (typeof hint === 'string') {
    if (!coll?.indexes.some((spec) => spec.name === hint)) throw badHint(ns)
    return
  }
  if (!isPlainObject(hint)) throw mongoError(ErrorCode.FailedToParse, 'hint must be a string or an object')
  const keys = Object.keys(hint)
  if (keys.length === 0) return
  if (keys.length === 1 && keys[0] === '$natural') return
  const wanted = canonicalKey(toLoose(hint))
  if (!coll?.indexes.some((spec) => canonicalKey(toLoose(spec.key)) === wanted)) throw badHint(ns)
}

/** Refuses any collation but the simple one (binary comparison, which is what the server does). */
export function checkCollation(command: string, collation: unknown): void {
  if (collation === undefined || collation === null) return
  const c = toLoose(collation) as Document
  if (isPlainObject(c) && c.locale === 'simple') return
  throw notImplemented(command, 'collation')
}

/** Both checks for a command (or statement) document `doc`. */
export function checkQueryOptions(command: string, doc: Document, coll: Collection | undefined, ns: Namespace): void {
  checkCollation(command, doc.collation)
  checkHint(coll, ns, doc.hint)
}
