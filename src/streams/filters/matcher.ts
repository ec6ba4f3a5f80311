import { Query } from 'mingo'
import { ObjectId, type Document } from 'mongodb'
import type { StreamEvent } from '../stream-event.js'
import { bsonNumber, compileFastTest, type FastTest } from './fast-query.js'

/**
 * Evaluates compiled `$match` stages in the gateway, with MongoDB's semantics for the BSON values change events
 * carry: each top-level part of a query runs as a compiled test (src/streams/filters/fast-query.ts) where it has
 * one, and with mingo, on the normalised event, where the compiled test cannot decide or does not exist.
 *
 * Three gaps between mingo and MongoDB are closed by normalising values before matching:
 * - mingo compares objects of different classes as unequal. This process holds two `ObjectId` classes (the
 *   driver loads bson's CommonJS build, `import 'bson'` loads its ES module build), so an event decoded by the
 *   driver and a filter built elsewhere (or an event decoded from EJSON) would never match on ids. Every
 *   ObjectId becomes the driver's class.
 * - mingo treats bson number wrappers (Int32, Double, Long, Decimal128, as decoded with promoteValues or
 *   promoteLongs off, or from canonical EJSON) as opaque objects, so `$gte`/`$lte` never match them. They become
 *   plain numbers (Decimal128 at double precision).
 * - MongoDB's NaN equals NaN and fails every other comparison; mingo lets it pass `$gte`/`$lte`. NaN becomes one
 *   sentinel object, which only equals itself and never compares with numbers.
 *
 * Normalising copies only what changes; a driver event with plain values is matched as is. The dispatcher
 * normalises a shared event (only when some filter needs mingo) once for all its filters ({@link normalizedImages}, kept in the event's own memo: a
 * process-wide WeakMap keyed by documents grew with every event held in a queue, and its rehashing and ephemeron
 * work showed up as 100 ms event-loop blocks while 1,000 subscribers caught up).
 */

/** An event is a change event document as the driver returns it. */
export type EventPredicate = (event: Document) => boolean
export type DocumentPredicate = (doc: Document | null | undefined) => boolean

/**
 * Tests a document as it was read, or normalised by `normal` (memoised by the caller: one normalisation per event
 * for every filter) where a part of the query needs mingo. Most filters never need it (src/streams/filters/fast-query.ts).
 */
export type Matcher = (doc: Document, normal: () => Document) => boolean

const QUERY_OPTIONS = { scriptEnabled: false } as const

/** Compiles the `$match` stages of `pipeline` into one predicate (their AND). Other stages are rejected. */
export function compileEventPredicate(pipeline: Document[]): EventPredicate {
  const test = compileEventMatcher(pipeline)
  return (event) => test(event, () => normalizeBson(event) as Document)
}

/** As {@link compileEventPredicate}, normalising the event only if and when mingo needs it. */
export function compileEventMatcher(pipeline: Document[]): Matcher {
  const conditions = pipeline.map((stage, n) => {
    const keys = Object.keys(stage)
    if (keys.length !== 1 || keys[0] !== '$match') throw new TypeError(`stage ${n} is not a $match stage`)
    return stage.$match as Document
  })
  return compileMatcher(conditions)
}

/** Compiles a query on the document itself; null and undefined documents never match. */
export function compileDocumentPredicate(documentFilter: Document): DocumentPredicate {
  const test = compileMatcher([documentFilter])
  return (doc) => doc != null && test(doc, () => normalizeBson(doc) as Document)
}

/** As {@link compileDocumentPredicate}, for a document that exists. */
export const compileDocumentMatcher = (documentFilter: Document): Matcher => compileMatcher([documentFilter])

/**
 * The AND of `conditions`, split into their top-level parts: each part the fast path decides runs first, and
 * mingo only where it cannot (its query compiled on first need); the other parts are mingo's from the start, so a
 * query mingo refuses (a script) fails here, at compile time.
 */
function compileMatcher(conditions: readonly Document[]): Matcher {
  const parts = conditions.flatMap((condition) => Object.keys(condition).map((key) => ({ [key]: condition[key] as unknown })))
  const fast: { readonly test: FastTest; readonly slow: () => Query }[] = []
  const slow: Query[] = []
  for (const part of parts) {
    const test = compileFastTest(part)
    if (!test) {
      slow.push(mingoQuery(part))
      continue
    }
    let query: Query | undefined
    fast.push({ test, slow: () => (query ??= mingoQuery(part)) })
  }
  return (doc, normal) => {
    let normalized: Document | undefined
    for (const part of fast) {
      const result = part.test(doc) ?? part.slow().test((normalized ??= normal()))
      if (!result) return false
    }
    if (slow.length === 0) return true
    normalized ??= normal()
    for (const query of slow) if (!query.test(normalized)) return false
    return true
  }
}

const mingoQuery = (query: Document) => new Query(normalizeBson(query) as Document, QUERY_OPTIONS)

/** An event as predicates match it: its raw document and images, normalised. */
export interface NormalizedImages {
  readonly raw: Document
  readonly before: Document | null
  readonly after: Document | null
}

const NORMALIZED = 'match:normalized'

/** The event normalised once for every filter evaluated on it (its images are those inside its raw document). */
export function normalizedImages(event: StreamEvent): NormalizedImages {
  let normal = event.memo.get(NORMALIZED) as NormalizedImages | undefined
  if (normal === undefined) {
    const raw = normalizeBson(event.raw) as Document
    // The images are the raw document's own fields (parseStreamEvent): normalised with it, not walked again.
    const side = (doc: Document | null, field: string): Document | null =>
      doc === null ? null : doc === event.raw[field] ? ((raw[field] as Document | undefined) ?? null) : (normalizeBson(doc) as Document)
    normal = { raw, before: side(event.before, 'fullDocumentBeforeChange'), after: side(event.after, 'fullDocument') }
    event.memo.set(NORMALIZED, normal)
  }
  return normal
}

/**
 * Returns `value` with every ObjectId of a foreign class re-created as the driver's ObjectId and every bson
 * number wrapper unwrapped, sharing every part that needed no change (and `value` itself when nothing did).
 */
export function normalizeBson(value: unknown): unknown {
  if (typeof value === 'number') return Number.isNaN(value) ? NAN : value
  if (value === null || typeof value !== 'object') return value
  if (Array.isArray(value)) {
    let out: unknown[] | undefined
    for (let n = 0; n < value.length; n++) {
      const item = normalizeBson(value[n])
      if (item !== value[n]) (out ??= value.slice())[n] = item
    }
    return out ?? value
  }
  const bsontype = (value as { _bsontype?: unknown })._bsontype
  if (typeof bsontype === 'string') {
    const normal = normalizeBsonValue(bsontype, value)
    return typeof normal === 'number' && Number.isNaN(normal) ? NAN : normal
  }
  const proto: unknown = Object.getPrototypeOf(value)
  if (proto !== Object.prototype && proto !== null) return value
  let out: Record<string, unknown> | undefined
  for (const [key, item] of Object.entries(value)) {
    const normal = normalizeBson(item)
    if (normal !== item) (out ??= { ...value })[key] = normal
  }
  return out ?? value
}

/** Stands for NaN while matching: an opaque value equal only to itself. */
class NotANumber {
  toString() {
    return 'NaN'
  }
}
const NAN = Object.freeze(new NotANumber())

function normalizeBsonValue(bsontype: string, value: object): unknown {
  if (bsontype === 'ObjectId') {
    return value instanceof ObjectId ? value : ObjectId.createFromHexString((value as { toHexString(): string }).toHexString())
  }
  return bsonNumber(bsontype, value) ?? value
}
