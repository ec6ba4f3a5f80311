/**
 * BSON values as the embedded server keeps them. Documents arrive deserialized with `promoteValues: false`
 * and are turned into "stored form": Int32 and Doubles that serialize back to the same BSON type become plain
 * numbers; integral Doubles, Longs and Decimal128 stay wrapped so every BSON type round-trips.
 * Stored documents are never mutated: writes build new documents (copy on write).
 */
import { Binary, Decimal128, Double, Int32, Long, ObjectId, Timestamp, type Document } from 'bson'

const INT32_MIN = -0x80000000
const INT32_MAX = 0x7fffffff

const fitsInt32 = (n: number) => Number.isInteger(n) && n >= INT32_MIN && n <= INT32_MAX && !Object.is(n, -0)

/** Assigns an own property, also for the key `__proto__` (which plain assignment would turn into a prototype change). */
export function setOwn(target: Document, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true })
  else target[key] = value
}

const isPlainObject = (v: unknown): v is Document =>
  typeof v === 'object' && v !== null && (Object.getPrototypeOf(v) === Object.prototype || Object.getPrototypeOf(v) === null)

let sawWrapper = false

/**
 * Converts a freshly deserialized document or array to stored form, in place.
 * Returns whether it still holds numeric wrappers (Double, Long, Decimal128) that query code must normalize.
 */
export function toStoredInPlace(value: Document | unknown[]): boolean {
  sawWrapper = false
  walk(value)
  return sawWrapper
}

function walk(value: Document | unknown[]): void {
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = convert(value[i])
  } else {
    for (const key in value) {
      const next = convert(value[key])
      if (next !== value[key]) setOwn(value, key, next)
    }
  }
}

function convert(v: unknown): unknown {
  if (typeof v !== 'object' || v === null) return v
  if (v instanceof Int32) return v.value
  if (v instanceof Double) {
    if (!fitsInt32(v.value) && !Object.is(v.value, -0)) return v.value
    sawWrapper = true
    return v
  }
  if (v instanceof Long || v instanceof Decimal128) {
    sawWrapper = true
    return v
  }
  if (Array.isArray(v) || isPlainObject(v)) walk(v as Document)
  return v
}

/** A value with numeric wrappers replaced by JS numbers, for matching, sorting and arithmetic. Copies only if needed. */
export function toLoose(v: unknown): unknown {
  if (typeof v !== 'object' || v === null) return v
  if (v instanceof Int32 || v instanceof Double) return v.value
  if (v instanceof Long) return v.toNumber()
  if (v instanceof Decimal128) return Number(v.toString())
  if (Array.isArray(v)) return v.map(toLoose)
  if (isPlainObject(v)) {
    const out: Document = {}
    for (const key in v) setOwn(out, key, toLoose(v[key]))
    return out
  }
  return v
}

/** Like toLoose, but keeps integral Doubles, Longs and Decimal128 (values to store, e.g. `$set` operands). */
export function toStoredCopy(v: unknown): unknown {
  if (typeof v !== 'object' || v === null) return v
  if (v instanceof Int32) return v.value
  if (v instanceof Double) return fitsInt32(v.value) || Object.is(v.value, -0) ? v : v.value
  if (Array.isArray(v)) return v.map(toStoredCopy)
  if (isPlainObject(v)) {
    const out: Document = {}
    for (const key in v) setOwn(out, key, toStoredCopy(v[key]))
    return out
  }
  return v
}

/** Whether a stored value holds numeric wrappers. */
export function hasWrappers(v: unknown): boolean {
  if (typeof v !== 'object' || v === null) return false
  if (v instanceof Double || v instanceof Long || v instanceof Decimal128) return true
  if (Array.isArray(v)) return v.some(hasWrappers)
  if (isPlainObject(v)) {
    for (const key in v) if (hasWrappers(v[key])) return true
  }
  return false
}

/** Deep copy of a stored document: containers are copied, BSON value objects are shared (never mutated). */
export function deepCopy<T>(v: T): T {
  if (typeof v !== 'object' || v === null) return v
  if (Array.isArray(v)) return v.map(deepCopy) as T
  if (v instanceof Date) return new Date(v.getTime()) as T
  if (isPlainObject(v)) {
    const out: Document = {}
    for (const key in v) setOwn(out, key, deepCopy(v[key]))
    return out as T
  }
  return v
}

/**
 * A string that is equal for two values exactly when MongoDB considers them equal as index keys
 * (numbers compare by value across Int32/Long/Double/Decimal128; embedded documents by field order and value).
 */
export function canonicalKey(v: unknown): string {
  if (v === undefined || v === null) return 'z'
  switch (typeof v) {
    case 'number':
      return `n${Object.is(v, -0) ? 0 : v}`
    case 'string':
      return `s${v}`
    case 'boolean':
      return v ? 'bt' : 'bf'
    case 'bigint':
      return `n${v}`
  }
  if (v instanceof ObjectId) return `o${v.toHexString()}`
  if (v instanceof Int32 || v instanceof Double) return `n${Object.is(v.value, -0) ? 0 : v.value}`
  if (v instanceof Long) {
    const n = v.toNumber()
    return Number.isSafeInteger(n) ? `n${n}` : `n${v.toString()}`
  }
  if (v instanceof Decimal128) {
    const n = Number(v.toString())
    return Number.isFinite(n) ? `n${n}` : `n${v.toString()}`
  }
  if (v instanceof Date) return `d${v.getTime()}`
  if (v instanceof Timestamp) return `t${v.toString()}`
  if (v instanceof Binary) return `x${v.sub_type}:${Buffer.from(v.buffer).toString('base64')}`
  if (v instanceof RegExp) return `r${v.source}/${v.flags}`
  if (Array.isArray(v)) return `a[${v.map(canonicalKey).join(',')}]`
  if (isPlainObject(v)) {
    let out = 'm{'
    for (const key in v) out += `${JSON.stringify(key)}:${canonicalKey(v[key])},`
    return `${out}}`
  }
  const named = v as { _bsontype?: string; toString(): string }
  return `?${named._bsontype ?? 'obj'}:${named.toString()}`
}

export { isPlainObject }
