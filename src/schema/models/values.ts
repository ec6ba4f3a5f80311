import type { Document } from 'mongodb'
import type { ResolvedField } from '../../models/index.js'
import { toRelaxed } from '../ejson.js'
import { idString } from '../../mongo/ids.js'

/** A stored value as the GraphQL type of `field` returns it (enums by GraphQL name; an unknown stored value is null). */
export function outputValue(field: ResolvedField, value: unknown): unknown {
  if (value === null || value === undefined) return field.list && field.required ? [] : null
  if (field.list) {
    if (!Array.isArray(value)) return field.required ? [] : null
    const items = value.map((item) => (item === null || item === undefined ? null : single(field, item)))
    return field.itemRequired ? items.filter((item) => item !== null) : items
  }
  return single(field, value)
}

function single(field: ResolvedField, value: unknown): unknown {
  if (field.kind === 'enum') return field.values.find((v) => v.stored === value)?.name ?? null
  if (field.kind === 'object') return typeof value === 'object' && !Array.isArray(value) ? (value as Document) : null
  switch (field.scalar) {
    case 'ID':
    case 'ObjectId':
      return idString(value)
    case 'String':
      return typeof value === 'string' ? value : value instanceof Date ? value.toISOString() : typeof value === 'object' ? JSON.stringify(toRelaxed(value)) : String(value)
    case 'Int':
    case 'Float':
      return typeof value === 'number' ? value : Number(String(value))
    case 'Boolean':
      return typeof value === 'boolean' ? value : null
    case 'DateTime':
      return value instanceof Date ? value : new Date(value as string)
    case 'JSON':
      return toRelaxed(value)
  }
}
