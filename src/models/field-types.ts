import type { FieldSpec, ScalarTypeName } from './types.js'
import { GRAPHQL_NAME, pascalCase, singular } from './naming.js'

export const SCALARS: readonly ScalarTypeName[] = ['String', 'Int', 'Float', 'Boolean', 'ID', 'ObjectId', 'DateTime', 'JSON']

/** Where a field sits and what it holds, resolved from its specification. */
interface FieldBase {
  /** Key in the stored document, and the GraphQL field name. */
  readonly name: string
  /** Dotted path from the document root (`sla.hours`). */
  readonly path: string
  readonly list: boolean
  /** Non-null (the list itself, for lists). */
  readonly required: boolean
  /** For lists: the elements are non-null. */
  readonly itemRequired: boolean
  readonly description: string | undefined
}

export interface ScalarField extends FieldBase {
  readonly kind: 'scalar'
  readonly scalar: ScalarTypeName
}

export interface EnumValue {
  /** GraphQL value. */
  readonly name: string
  /** Stored value. */
  readonly stored: string | number
}

export interface EnumField extends FieldBase {
  readonly kind: 'enum'
  readonly typeName: string
  readonly values: readonly EnumValue[]
}

export interface ObjectField extends FieldBase {
  readonly kind: 'object'
  readonly typeName: string
  readonly fields: readonly ResolvedField[]
}

export type ResolvedField = ScalarField | EnumField | ObjectField

/** A problem with one field's specification; the caller adds the model and field to the message. */
export class FieldSpecError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message)
  }
}

const SCALAR_SPEC = /^(\[)?\s*([A-Za-z]+)\s*(!)?\s*(\])?\s*(!)?$/
const SHAPE_KEYS = new Set(['required', 'list', 'typeName', 'description'])
const RESERVED_ENUM_VALUES = new Set(['true', 'false', 'null'])

/** Resolves one field specification; `owner` is the GraphQL type that holds it (naming nested types). */
export function resolveField(name: string, spec: FieldSpec, owner: string, parentPath: string, depth = 0): ResolvedField {
  const path = parentPath ? `${parentPath}.${name}` : name
  if (typeof spec === 'string') {
    const m = SCALAR_SPEC.exec(spec.trim())
    if (!m || Boolean(m[1]) !== Boolean(m[4]) || (!m[1] && m[5])) {
      throw new FieldSpecError(path, `type ${JSON.stringify(spec)} is not one of ${SCALARS.join(' ')} with optional ! and [..]`)
    }
    const scalar = m[2] as ScalarTypeName
    if (!SCALARS.includes(scalar)) throw new FieldSpecError(path, `unknown type ${JSON.stringify(m[2])}; use one of ${SCALARS.join(' ')}`)
    const list = Boolean(m[1])
    return {
      kind: 'scalar',
      name,
      path,
      scalar,
      list,
      required: list ? Boolean(m[5]) : Boolean(m[3]),
      itemRequired: list && Boolean(m[3]),
      description: undefined,
    }
  }
  if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) {
    throw new FieldSpecError(path, 'must be a type string, { enum: {...} } or { object: {...} }')
  }
  const kinds = ['enum', 'object'].filter((k) => k in spec)
  if (kinds.length !== 1) throw new FieldSpecError(path, 'must have exactly one of the keys enum or object')
  for (const key of Object.keys(spec)) {
    if (key !== kinds[0] && !SHAPE_KEYS.has(key)) throw new FieldSpecError(path, `unknown key ${JSON.stringify(key)}`)
  }
  const list = flag(path, spec.list, 'list')
  const typeName = spec.typeName ?? `${owner}${pascalCase(list ? singular(name) : name)}`
  if (typeof typeName !== 'string' || !GRAPHQL_NAME.test(typeName)) throw new FieldSpecError(path, 'typeName must be a GraphQL name')
  if (spec.description !== undefined && typeof spec.description !== 'string') throw new FieldSpecError(path, 'description must be a string')
  const base = { name, path, list, required: flag(path, spec.required, 'required'), itemRequired: list, description: spec.description }
  if ('enum' in spec) {
    const entries = spec.enum && typeof spec.enum === 'object' && !Array.isArray(spec.enum) ? Object.entries(spec.enum) : []
    if (entries.length === 0) throw new FieldSpecError(path, 'enum must map at least one GraphQL value to a stored value')
    const stored = new Set<unknown>()
    for (const [value, storedValue] of entries) {
      if (!GRAPHQL_NAME.test(value) || RESERVED_ENUM_VALUES.has(value)) throw new FieldSpecError(path, `enum value ${JSON.stringify(value)} is not a valid GraphQL enum value`)
      if (typeof storedValue !== 'string' && typeof storedValue !== 'number') throw new FieldSpecError(path, `enum value ${value} must map to a string or number`)
      if (stored.has(storedValue)) throw new FieldSpecError(path, `enum values map twice to ${JSON.stringify(storedValue)}`)
      stored.add(storedValue)
    }
    return { kind: 'enum', ...base, typeName, values: entries.map(([value, s]) => ({ name: value, stored: s })) }
  }
  if (depth >= 4) throw new FieldSpecError(path, 'objects nest at most 4 levels')
  const nested = spec.object && typeof spec.object === 'object' && !Array.isArray(spec.object) ? Object.entries(spec.object) : []
  if (nested.length === 0) throw new FieldSpecError(path, 'object must declare at least one field')
  const fields = nested.map(([child, childSpec]) => {
    checkFieldName(`${path}.${child}`, child)
    return resolveField(child, childSpec, typeName, path, depth + 1)
  })
  return { kind: 'object', ...base, typeName, fields }
}

export function checkFieldName(path: string, name: string): void {
  if (!GRAPHQL_NAME.test(name) || name.startsWith('__')) throw new FieldSpecError(path, 'is not a valid GraphQL field name')
}

function flag(path: string, value: unknown, key: string): boolean {
  if (value === undefined) return false
  if (typeof value !== 'boolean') throw new FieldSpecError(path, `${key} must be true or false`)
  return value
}

/** Every field below `fields`, depth first (objects and their children). */
export function* walkFields(fields: readonly ResolvedField[]): Generator<ResolvedField> {
  for (const field of fields) {
    yield field
    if (field.kind === 'object') yield* walkFields(field.fields)
  }
}

/** A field that `where` can compare: scalars (not JSON) and enums, single or lists, at any depth. */
export const isComparable = (field: ResolvedField): boolean =>
  field.kind === 'enum' || (field.kind === 'scalar' && field.scalar !== 'JSON')
