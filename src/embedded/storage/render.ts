/** Values rendered the way MongoDB prints them in error messages (`ObjectId('…')`, `"text"`, `1`). */
import { Binary, Decimal128, Double, Int32, Long, ObjectId, Timestamp, type Document } from 'bson'
import { isPlainObject } from '../bson-values.js'

export function renderValue(v: unknown): string {
  if (v === null || v === undefined) return 'null'
  if (typeof v === 'string') return JSON.stringify(v)
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v)
  if (v instanceof ObjectId) return `ObjectId('${v.toHexString()}')`
  if (v instanceof Date) return `new Date(${v.getTime()})`
  if (v instanceof Int32 || v instanceof Double) return String(v.value)
  if (v instanceof Long) return v.toString()
  if (v instanceof Decimal128) return v.toString()
  if (v instanceof Timestamp) return `Timestamp(${v.high}, ${v.low})`
  if (v instanceof Binary) return `BinData(${v.sub_type}, ${Buffer.from(v.buffer).toString('hex').toUpperCase()})`
  if (Array.isArray(v)) return `[ ${v.map(renderValue).join(', ')} ]`
  if (isPlainObject(v)) {
    const entries = Object.entries(v as Document).map(([k, x]) => `${k}: ${renderValue(x)}`)
    return entries.length ? `{ ${entries.join(', ')} }` : '{}'
  }
  return String(v)
}
