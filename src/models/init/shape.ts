/**
 * The intermediate type both inferences produce (from a `$jsonSchema` validator or from sampled documents),
 * turned into the configuration's field spelling in one place.
 */
import type { FieldSpec, ScalarTypeName } from '../types.js'

export type Shape =
  | { readonly kind: 'scalar'; readonly name: ScalarTypeName }
  | { readonly kind: 'enum'; readonly values: Readonly<Record<string, string>> }
  | { readonly kind: 'object'; readonly fields: Readonly<Record<string, FieldSpec>> }
  | { readonly kind: 'list'; readonly item: Shape; readonly itemRequired: boolean }

/** A field left out of the configuration, with the reason (written as a comment). */
export interface SkippedField {
  readonly path: string
  readonly reason: string
}

export interface InferredFields {
  readonly fields: Record<string, FieldSpec>
  readonly skipped: SkippedField[]
}

/** Field paths have at most this many segments (`a.b.c.d`); an object whose fields would lie deeper is JSON. */
export const MAX_OBJECT_DEPTH = 4

export const JSON_SHAPE: Shape = { kind: 'scalar', name: 'JSON' }
export const scalar = (name: ScalarTypeName): Shape => (name === 'JSON' ? JSON_SHAPE : { kind: 'scalar', name })

const GRAPHQL_NAME = /^[_A-Za-z][_0-9A-Za-z]*$/

/** A name GraphQL accepts for a field (not `__`-prefixed, which introspection reserves). */
export const isGraphqlName = (name: string): boolean => GRAPHQL_NAME.test(name) && !name.startsWith('__')

/** Why a document key cannot be a field, or undefined when it can (`_id` is handled by the caller). */
export function fieldNameProblem(name: string, topLevel: boolean): string | undefined {
  if (!isGraphqlName(name)) return 'not a valid GraphQL name'
  if (topLevel && name === 'id') return "'id' is the implicit document id (from _id)"
  return undefined
}

export const joinPath = (parent: string, name: string): string => (parent ? `${parent}.${name}` : name)

/** The configuration's spelling of a shape: `'Int!'`, `'[String!]'`, `{ enum: …, required: true }`, … */
export function toFieldSpec(shape: Shape, required: boolean): FieldSpec {
  const options = required ? { required: true } : {}
  switch (shape.kind) {
    case 'scalar':
      return `${shape.name}${required ? '!' : ''}`
    case 'enum':
      return { enum: shape.values, ...options }
    case 'object':
      return { object: shape.fields, ...options }
    case 'list': {
      const { item, itemRequired } = shape
      if (item.kind === 'scalar') return `[${item.name}${itemRequired ? '!' : ''}]${required ? '!' : ''}`
      // Lists of enums and objects hold non-null items; lists of lists have no spelling: both fall back to JSON.
      if (item.kind === 'enum' && itemRequired) return { enum: item.values, list: true, ...options }
      if (item.kind === 'object' && itemRequired) return { object: item.fields, list: true, ...options }
      return `[JSON${itemRequired && item.kind === 'list' ? '!' : ''}]${required ? '!' : ''}`
    }
  }
}
