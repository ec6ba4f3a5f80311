import type { Document } from 'mongodb'
import { badUserInput } from '../../errors.js'
import type { ResolvedField } from '../../models/index.js'
import { listArgument, numberArgument, objectIdArgument, stringArgument } from './arguments.js'

/**
 * Typed comparisons on one field (`IntComparison`, `StringListComparison`, … of DESIGN §8) → query clauses.
 * Values are converted to their stored type and land only under operators chosen here.
 */

const SCALAR_OPS = ['eq', 'ne', 'gt', 'gte', 'lt', 'lte', 'in', 'notIn', 'exists'] as const
const LIST_OPS = ['contains', 'containsAny', 'isEmpty', 'exists'] as const
const MONGO_OP: Readonly<Record<string, string>> = {
  eq: '$eq',
  ne: '$ne',
  gt: '$gt',
  gte: '$gte',
  lt: '$lt',
  lte: '$lte',
  in: '$in',
  notIn: '$nin',
  exists: '$exists',
}
const ORDERED = new Set(['Int', 'Float', 'DateTime', 'String'])

/** Counts comparisons across one `where` (at most 50, DESIGN §8). */
export interface Budget {
  comparisons: number
}
export const MAX_COMPARISONS = 50

/** The operators a field's comparison input offers. */
export function comparisonOps(field: ResolvedField): readonly string[] {
  if (field.list) return LIST_OPS
  const ordered = field.kind === 'scalar' && ORDERED.has(field.scalar)
  return SCALAR_OPS.filter((op) => ordered || !['gt', 'gte', 'lt', 'lte'].includes(op))
}

/** Converts one client value for `field` (enums by GraphQL name) to what is stored, or throws BAD_USER_INPUT naming `arg`. */
export function storedValue(field: ResolvedField, value: unknown, arg: string): unknown {
  if (field.kind === 'enum') {
    const entry = field.values.find((v) => v.name === value)
    if (!entry) throw badUserInput(`${arg} must be one of ${field.values.map((v) => v.name).join(', ')}`)
    return entry.stored
  }
  if (field.kind === 'object') throw badUserInput(`${arg} cannot be compared`)
  switch (field.scalar) {
    case 'ObjectId':
      return objectIdArgument(arg, value)
    case 'Int':
      return numberArgument(arg, value, true)
    case 'Float':
      return numberArgument(arg, value, false)
    case 'Boolean':
      if (typeof value !== 'boolean') throw badUserInput(`${arg} must be true or false`)
      return value
    case 'DateTime':
      if (!(value instanceof Date) || Number.isNaN(value.getTime())) throw badUserInput(`${arg} must be an ISO-8601 date-time`)
      return value
    default:
      return stringArgument(arg, value)
  }
}

/** Deduplicated and sorted by a type-aware key, so equal lists in any order compile to the same bytes. */
export function canonicalList(field: ResolvedField, values: unknown, arg: string): unknown[] {
  const list = listArgument(arg, values)!
  const byKey = new Map<string, unknown>()
  for (const [n, value] of list.entries()) {
    const stored = storedValue(field, value, `${arg}[${n}]`)
    byKey.set(sortKey(stored), stored)
  }
  return [...byKey.keys()].sort().map((k) => byKey.get(k))
}

function sortKey(value: unknown): string {
  if (typeof value === 'number') return `n${(value < 0 ? '-' : '+') + Math.abs(value).toExponential(17)}`
  if (value instanceof Date) return `d${value.toISOString()}`
  if (typeof value === 'object' && value !== null && 'toHexString' in value) return `o${(value as { toHexString(): string }).toHexString()}`
  return `${typeof value}:${String(value)}`
}

/** Clauses for `{ op: value, … }` on `field` at `path`, in canonical operator order. */
export function compileComparison(
  field: ResolvedField,
  path: string,
  comparison: unknown,
  arg: string,
  budget: Budget,
  /** A shorthand argument: errors name `arg` itself, not `arg.op`. */
  shorthand = false,
): Document[] {
  if (comparison === null || typeof comparison !== 'object' || Array.isArray(comparison)) throw badUserInput(`${arg} must be an object`)
  const input = comparison as Record<string, unknown>
  const allowed = comparisonOps(field)
  const given = Object.keys(input).filter((op) => input[op] !== undefined && input[op] !== null)
  for (const op of given) if (!allowed.includes(op)) throw badUserInput(`${arg}.${op} is not a comparison of this field`)
  if (given.length === 0) throw badUserInput(`${arg} must set at least one comparison`)
  budget.comparisons += given.length
  if (budget.comparisons > MAX_COMPARISONS) throw badUserInput(`where must have at most ${MAX_COMPARISONS} comparisons`)

  const clauses: Document[] = []
  const scalar: Document = {}
  for (const op of allowed) {
    if (!given.includes(op)) continue
    const value = input[op]
    const at = shorthand ? arg : `${arg}.${op}`
    switch (op) {
      case 'exists':
        if (typeof value !== 'boolean') throw badUserInput(`${at} must be true or false`)
        scalar.$exists = value
        break
      case 'in':
      case 'notIn':
        scalar[MONGO_OP[op]] = canonicalList(field, value, at)
        break
      case 'contains':
        clauses.push({ [path]: { $elemMatch: { $eq: storedValue(field, value, at) } } })
        break
      case 'containsAny':
        clauses.push({ [path]: { $elemMatch: { $in: canonicalList(field, value, at) } } })
        break
      case 'isEmpty':
        if (typeof value !== 'boolean') throw badUserInput(`${at} must be true or false`)
        clauses.push(value ? { [path]: { $size: 0 } } : { [`${path}.0`]: { $exists: true } })
        break
      default:
        scalar[MONGO_OP[op]] = storedValue(field, value, at)
    }
  }
  return Object.keys(scalar).length > 0 ? [{ [path]: scalar }, ...clauses] : clauses
}

/**
 * One query from clauses: `{}` for none, the clause itself for one, clauses on distinct fields merged into one
 * object (operators on the same field too, when they do not overlap), else `$and`.
 */
export function combineClauses(clauses: readonly Document[]): Document {
  if (clauses.length === 0) return {}
  if (clauses.length === 1) return clauses[0]
  const merged: Document = {}
  for (const clause of clauses) {
    const [key, ...rest] = Object.keys(clause)
    if (rest.length > 0 || key.startsWith('$')) return { $and: [...clauses] }
    const value = clause[key] as unknown
    const existing = Object.hasOwn(merged, key) ? (merged[key] as unknown) : undefined // a field may be named `constructor`
    if (existing === undefined) merged[key] = value
    else if (isOperatorObject(existing) && isOperatorObject(value) && !Object.keys(value).some((op) => op in existing)) {
      merged[key] = { ...existing, ...value }
    } else return { $and: [...clauses] }
  }
  return merged
}

const isOperatorObject = (value: unknown): value is Document =>
  value !== null && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).every((k) => k.startsWith('$'))
