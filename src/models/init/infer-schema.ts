/**
 * Fields from a collection's `$jsonSchema` validator: bsonType (or JSON `type`) → scalar, `properties` → nested
 * object, `items` → list, `enum` of strings → enum, `required` → non-null.
 */
import type { Document } from 'bson'
import { enumValues } from './names.js'
import {
  JSON_SHAPE, MAX_OBJECT_DEPTH, fieldNameProblem, joinPath, scalar, toFieldSpec,
  type InferredFields, type Shape, type SkippedField,
} from './shape.js'

const isDocument = (value: unknown): value is Document => typeof value === 'object' && value !== null && !Array.isArray(value)

/** The `$jsonSchema` of a validator (alone or inside a top-level `$and`), if it describes any properties. */
export function jsonSchemaOf(validator: unknown): Document | undefined {
  if (!isDocument(validator)) return undefined
  const candidates = [validator.$jsonSchema, ...(Array.isArray(validator.$and) ? validator.$and.map((part: unknown) => isDocument(part) ? part.$jsonSchema : undefined) : [])]
  return candidates.find((schema): schema is Document => isDocument(schema) && isDocument(schema.properties) && Object.keys(schema.properties).length > 0)
}

/** JSON Schema `type` names in bsonType spelling. */
const JSON_TYPES: Readonly<Record<string, string>> = { string: 'string', number: 'number', integer: 'int', boolean: 'bool', object: 'object', array: 'array', null: 'null' }

const SCALARS: Readonly<Record<string, Shape>> = {
  string: scalar('String'),
  int: scalar('Int'),
  long: scalar('Int'),
  double: scalar('Float'),
  decimal: scalar('Float'),
  number: scalar('Float'),
  bool: scalar('Boolean'),
  objectId: scalar('ObjectId'),
  date: scalar('DateTime'),
}
const INTEGER_TYPES = new Set(['int', 'long'])
const NUMERIC_TYPES = new Set(['int', 'long', 'double', 'decimal', 'number'])

function typesOf(schema: Document): string[] {
  const list = (value: unknown): unknown[] => (Array.isArray(value) ? value : value === undefined ? [] : [value])
  const types = [...list(schema.bsonType), ...list(schema.type).map((type) => JSON_TYPES[String(type)] ?? String(type))]
  return [...new Set(types.map(String))]
}

interface SchemaShape {
  readonly shape: Shape
  readonly nullable: boolean
}

function shapeOf(schema: Document, depth: number, path: string, skipped: SkippedField[]): SchemaShape {
  const types = typesOf(schema)
  const nullable = types.includes('null')
  if (Array.isArray(schema.enum)) {
    const stored = schema.enum.filter((value: unknown) => value !== null)
    const hasNull = stored.length < schema.enum.length
    if (stored.length > 0 && stored.every((value: unknown) => typeof value === 'string')) {
      return { shape: { kind: 'enum', values: enumValues(stored) }, nullable: nullable || hasNull }
    }
  }
  const others = types.filter((type) => type !== 'null')
  if (others.length === 0) {
    return isDocument(schema.properties) ? objectShape(schema, depth, path, skipped, nullable) : { shape: JSON_SHAPE, nullable: true }
  }
  if (others.length > 1) {
    if (!others.every((type) => NUMERIC_TYPES.has(type))) return { shape: JSON_SHAPE, nullable }
    return { shape: scalar(others.every((type) => INTEGER_TYPES.has(type)) ? 'Int' : 'Float'), nullable }
  }
  const [type] = others
  if (type === 'object') return objectShape(schema, depth, path, skipped, nullable)
  if (type === 'array') {
    if (!isDocument(schema.items)) return { shape: { kind: 'list', item: JSON_SHAPE, itemRequired: false }, nullable }
    const item = shapeOf(schema.items, depth, path, skipped)
    return { shape: { kind: 'list', item: item.shape, itemRequired: !item.nullable }, nullable }
  }
  return { shape: SCALARS[type] ?? JSON_SHAPE, nullable }
}

function objectShape(schema: Document, depth: number, path: string, skipped: SkippedField[], nullable: boolean): SchemaShape {
  if (!isDocument(schema.properties) || depth + 1 > MAX_OBJECT_DEPTH) return { shape: JSON_SHAPE, nullable }
  const { fields } = fieldsOf(schema, depth + 1, path, skipped)
  return { shape: Object.keys(fields).length > 0 ? { kind: 'object', fields } : JSON_SHAPE, nullable }
}

function fieldsOf(schema: Document, depth: number, parent: string, skipped: SkippedField[]): InferredFields {
  const properties = isDocument(schema.properties) ? schema.properties : {}
  const required = new Set(Array.isArray(schema.required) ? schema.required.map(String) : [])
  const fields: InferredFields['fields'] = {}
  for (const name of Object.keys(properties).sort()) {
    if (depth === 1 && name === '_id') continue
    const path = joinPath(parent, name)
    const problem = fieldNameProblem(name, depth === 1)
    if (problem) {
      skipped.push({ path, reason: problem })
      continue
    }
    const property = properties[name]
    const { shape, nullable } = isDocument(property) ? shapeOf(property, depth, path, skipped) : { shape: JSON_SHAPE, nullable: true }
    fields[name] = toFieldSpec(shape, required.has(name) && !nullable)
  }
  return { fields, skipped }
}

/** The model's fields from its `$jsonSchema` (`_id` is implicit and left out). */
export function inferFromJsonSchema(schema: Document): InferredFields {
  return fieldsOf(schema, 1, '', [])
}
