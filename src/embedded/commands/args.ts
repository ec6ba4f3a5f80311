/** Reading command arguments (numbers arrive as BSON wrappers; documents must be objects). */
import { Decimal128, Double, Int32, Long, type Document } from 'bson'
import { isPlainObject } from '../bson-values.js'
import { ErrorCode, mongoError } from '../errors.js'
import type { Namespace } from '../types.js'
import type { RequestContext } from './context.js'

export function asNumber(v: unknown): number | undefined {
  if (typeof v === 'number') return v
  if (v instanceof Int32 || v instanceof Double) return v.value
  if (v instanceof Long) return v.toNumber()
  if (v instanceof Decimal128) return Number(v.toString())
  return undefined
}

export function numberArg(cmd: Document, field: string): number | undefined {
  const v = cmd[field]
  if (v === undefined || v === null) return undefined
  const n = asNumber(v)
  if (n === undefined) {
    throw mongoError(ErrorCode.TypeMismatch, `BSON field '${field}' is the wrong type '${typeName(v)}', expected types '[long, int, decimal, double]'`)
  }
  return n
}

export function documentArg(cmd: Document, field: string): Document | undefined {
  const v = cmd[field]
  if (v === undefined || v === null) return undefined
  if (!isPlainObject(v)) {
    throw mongoError(ErrorCode.TypeMismatch, `BSON field '${field}' is the wrong type '${typeName(v)}', expected type 'object'`)
  }
  return v
}

export function boolArg(cmd: Document, field: string, fallback: boolean): boolean {
  const v = cmd[field]
  if (v === undefined || v === null) return fallback
  if (typeof v === 'boolean') return v
  const n = asNumber(v)
  if (n !== undefined) return n !== 0
  throw mongoError(ErrorCode.TypeMismatch, `BSON field '${field}' is the wrong type '${typeName(v)}', expected type 'bool'`)
}

/** The namespace a collection command targets: `{ <name>: '<collection>', $db }`. */
export function collectionNs(cmd: Document, req: RequestContext): Namespace {
  const coll = cmd[req.name]
  if (typeof coll !== 'string' || coll.length === 0) {
    throw mongoError(ErrorCode.InvalidNamespace, `collection name has invalid type ${typeName(coll)}`)
  }
  return { db: req.db, coll }
}

export function typeName(v: unknown): string {
  if (v === null) return 'null'
  if (v === undefined) return 'missing'
  if (typeof v === 'string') return 'string'
  if (typeof v === 'boolean') return 'bool'
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'double'
  if (Array.isArray(v)) return 'array'
  if (isPlainObject(v)) return 'object'
  const tagged = v as { _bsontype?: string }
  if (tagged._bsontype) return tagged._bsontype.toLowerCase()
  if (v instanceof Date) return 'date'
  if (v instanceof RegExp) return 'regex'
  return typeof v
}
