/**
 * MongoDB's comparison of BSON values (the order `$sort` and `$gt` use), for values as the embedded server
 * holds them: plain JS numbers, strings, booleans, Dates, RegExps, arrays and objects, plus the `bson`
 * package's classes (ObjectId, Long, Double, Int32, Decimal128, Timestamp, Binary, MinKey, MaxKey, ...).
 */
import type { Binary, Decimal128, Double, Int32, Long, ObjectId, Timestamp } from 'bson'

/** MongoDB's canonical type order: values of different canonical types compare by this rank. */
export const CanonicalType = {
  minKey: -1,
  missing: 0,
  null: 5,
  number: 10,
  string: 15,
  object: 20,
  array: 25,
  binary: 30,
  objectId: 35,
  boolean: 40,
  date: 45,
  timestamp: 47,
  regex: 50,
  dbPointer: 55,
  code: 60,
  codeWithScope: 65,
  maxKey: 127,
} as const
export type CanonicalType = (typeof CanonicalType)[keyof typeof CanonicalType]

const bsontype = (v: object): string | undefined => (v as { _bsontype?: string })._bsontype

export function canonicalType(v: unknown): CanonicalType {
  if (v === undefined) return CanonicalType.missing
  if (v === null) return CanonicalType.null
  switch (typeof v) {
    case 'number':
    case 'bigint':
      return CanonicalType.number
    case 'string':
      return CanonicalType.string
    case 'boolean':
      return CanonicalType.boolean
    case 'object':
      break
    default:
      return CanonicalType.object
  }
  if (Array.isArray(v)) return CanonicalType.array
  if (v instanceof Date) return CanonicalType.date
  if (v instanceof RegExp) return CanonicalType.regex
  switch (bsontype(v)) {
    case 'Int32':
    case 'Double':
    case 'Long':
    case 'Decimal128':
      return CanonicalType.number
    case 'BSONSymbol':
      return CanonicalType.string
    case 'ObjectId':
      return CanonicalType.objectId
    case 'Timestamp':
      return CanonicalType.timestamp
    case 'Binary':
      return CanonicalType.binary
    case 'BSONRegExp':
      return CanonicalType.regex
    case 'MinKey':
      return CanonicalType.minKey
    case 'MaxKey':
      return CanonicalType.maxKey
    case 'Code':
      return (v as { scope?: unknown }).scope ? CanonicalType.codeWithScope : CanonicalType.code
    case 'DBRef':
      return CanonicalType.object
    case 'DBPointer':
      return CanonicalType.dbPointer
  }
  return CanonicalType.object
}

const sign = (n: number) => (n < 0 ? -1 : n > 0 ? 1 : 0)

/** A number-like value as a JS number or bigint (bigint only where a Long exceeds 2^53). */
function numeric(v: unknown): number | bigint {
  if (typeof v === 'number' || typeof v === 'bigint') return v
  switch (typeof v === 'object' && v !== null ? bsontype(v) : undefined) {
    case 'Int32':
    case 'Double':
      return (v as Int32 | Double).value
    case 'Long': {
      const n = (v as Long).toNumber()
      return Number.isSafeInteger(n) ? n : (v as Long).toBigInt()
    }
    case 'Decimal128':
      return Number((v as Decimal128).toString())
  }
  return NaN
}

function compareNumbers(a: unknown, b: unknown): number {
  const x = numeric(a)
  const y = numeric(b)
  if (typeof x === 'bigint' || typeof y === 'bigint') {
    if (typeof x === 'number' && !Number.isFinite(x)) return Number.isNaN(x) ? -1 : sign(x)
    if (typeof y === 'number' && !Number.isFinite(y)) return Number.isNaN(y) ? 1 : -sign(y)
    const bx = typeof x === 'bigint' ? x : BigInt(Math.trunc(x))
    const by = typeof y === 'bigint' ? y : BigInt(Math.trunc(y))
    if (bx !== by) return bx < by ? -1 : 1
    // Equal integer parts: the fractional part of a plain number decides.
    const fx = typeof x === 'number' ? x - Math.trunc(x) : 0
    const fy = typeof y === 'number' ? y - Math.trunc(y) : 0
    return sign(fx - fy)
  }
  // NaN sorts before every other number and equals itself.
  if (Number.isNaN(x)) return Number.isNaN(y) ? 0 : -1
  if (Number.isNaN(y)) return 1
  return x < y ? -1 : x > y ? 1 : 0
}

const compareStrings = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1
  return sign(a.length - b.length)
}

function compareEntries(a: Array<[string, unknown]>, b: Array<[string, unknown]>): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    const [ka, va] = a[i]
    const [kb, vb] = b[i]
    const byType = sign(canonicalType(va) - canonicalType(vb))
    if (byType) return byType
    const byName = compareStrings(ka, kb)
    if (byName) return byName
    const byValue = compareBson(va, vb)
    if (byValue) return byValue
  }
  return sign(a.length - b.length)
}

const fields = (o: object): Array<[string, unknown]> =>
  Object.keys(o)
    .filter((k) => (o as Record<string, unknown>)[k] !== undefined)
    .map((k) => [k, (o as Record<string, unknown>)[k]])

/** -1, 0 or 1 as MongoDB orders `a` and `b`. */
export function compareBson(a: unknown, b: unknown): number {
  if (a === b) return 0
  const ta = canonicalType(a)
  const tb = canonicalType(b)
  if (ta !== tb) return sign(ta - tb)
  switch (ta) {
    case CanonicalType.minKey:
    case CanonicalType.maxKey:
    case CanonicalType.missing:
    case CanonicalType.null:
      return 0
    case CanonicalType.number:
      return compareNumbers(a, b)
    case CanonicalType.string:
      return compareStrings(String(a), String(b))
    case CanonicalType.boolean:
      return sign(Number(a) - Number(b))
    case CanonicalType.date:
      return sign((a as Date).getTime() - (b as Date).getTime())
    case CanonicalType.objectId:
      return compareStrings((a as ObjectId).toHexString(), (b as ObjectId).toHexString())
    case CanonicalType.timestamp: {
      const x = a as Timestamp
      const y = b as Timestamp
      return sign(x.t - y.t) || sign(x.i - y.i)
    }
    case CanonicalType.binary: {
      const x = a as Binary
      const y = b as Binary
      return sign(x.position - y.position) || sign(x.sub_type - y.sub_type) || compareBytes(x.value(), y.value())
    }
    case CanonicalType.regex: {
      const x = regexParts(a)
      const y = regexParts(b)
      return compareStrings(x.source, y.source) || compareStrings(x.flags, y.flags)
    }
    case CanonicalType.array:
      return compareEntries(
        (a as unknown[]).map((v, i) => [String(i), v]),
        (b as unknown[]).map((v, i) => [String(i), v]),
      )
    case CanonicalType.object:
      return compareEntries(fields(a as object), fields(b as object))
    default:
      return compareStrings(String(a), String(b))
  }
}

function regexParts(v: unknown): { source: string; flags: string } {
  if (v instanceof RegExp) return { source: v.source, flags: v.flags }
  const r = v as { pattern: string; options: string }
  return { source: r.pattern, flags: r.options }
}

/** Equality as MongoDB's `$eq` sees it: numbers by value across types, documents by field order and value. */
export const bsonEquals = (a: unknown, b: unknown): boolean => compareBson(a, b) === 0

/**
 * Byte-for-byte identity as stored (same BSON type and value): what the server's update diff uses to decide
 * that a field did not change. Int32(1) and Double(1.0) are different here, unlike in bsonEquals.
 */
export function bsonIdentical(a: unknown, b: unknown): boolean {
  if (a === b) return !(typeof a === 'number' && Object.is(a, -0) !== Object.is(b, -0))
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) {
    return typeof a === 'number' && typeof b === 'number' && Number.isNaN(a) && Number.isNaN(b)
  }
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false
    for (let i = 0; i < a.length; i++) if (!bsonIdentical(a[i], b[i])) return false
    return true
  }
  if (Array.isArray(b)) return false
  if (a instanceof Date) return b instanceof Date && a.getTime() === b.getTime()
  if (a instanceof RegExp) return b instanceof RegExp && a.source === b.source && a.flags === b.flags
  const typeA = bsontype(a)
  if (typeA !== bsontype(b)) return false
  if (typeA === undefined) {
    const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined)
    const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined)
    if (ka.length !== kb.length) return false
    for (let i = 0; i < ka.length; i++) {
      if (ka[i] !== kb[i]) return false
      if (!bsonIdentical((a as Record<string, unknown>)[ka[i]], (b as Record<string, unknown>)[kb[i]])) return false
    }
    return true
  }
  switch (typeA) {
    case 'Double':
      return Object.is((a as Double).value, (b as Double).value)
    case 'Int32':
      return (a as Int32).value === (b as Int32).value
    case 'Decimal128':
      return compareBytes((a as Decimal128).bytes, (b as Decimal128).bytes) === 0
    default:
      return compareBson(a, b) === 0
  }
}
