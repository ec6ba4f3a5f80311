/** One collection → one model: its fields (validator first, else the sample), name and tenant field. */
import type { Document } from 'bson'
import type { FieldSpec, ModelSpec } from '../types.js'
import { inferFromJsonSchema, jsonSchemaOf } from './infer-schema.js'
import { inferFromSample } from './infer-sample.js'
import type { SkippedField } from './shape.js'

/** Top-level field names taken as the tenant, in order of preference. */
export const TENANT_FIELD_NAMES = ['tenantId', 'orgId', 'tenant', 'accountId'] as const

/** Field types that can hold a tenant identifier. */
const TENANT_TYPES = new Set(['String', 'ID', 'ObjectId', 'Int'])

export type ModelSource = { readonly kind: 'validator' } | { readonly kind: 'sample'; readonly documents: number }

export interface InferredModel {
  readonly name: string
  readonly source: ModelSource
  readonly spec: ModelSpec
  readonly skipped: readonly SkippedField[]
}

export interface CollectionInput {
  readonly name: string
  /** `options.validator` as listCollections reports it. */
  readonly validator?: unknown
  /** Documents sampled from the collection; read only when the validator has no `$jsonSchema` properties. */
  readonly sample: () => Promise<readonly Document[]>
}

/** The first of TENANT_FIELD_NAMES among the fields that is a single scalar identifier, or null. */
export function guessTenantField(fields: Readonly<Record<string, FieldSpec>>): string | null {
  for (const name of TENANT_FIELD_NAMES) {
    const spec = fields[name]
    if (typeof spec === 'string' && TENANT_TYPES.has(spec.replace(/!$/, ''))) return name
  }
  return null
}

export async function inferModel(name: string, collection: CollectionInput): Promise<InferredModel> {
  const schema = jsonSchemaOf(collection.validator)
  let source: ModelSource = { kind: 'validator' }
  let inferred
  if (schema) inferred = inferFromJsonSchema(schema)
  else {
    const documents = await collection.sample()
    source = { kind: 'sample', documents: documents.length }
    inferred = inferFromSample(documents)
  }
  const spec: ModelSpec = {
    collection: collection.name,
    tenantField: guessTenantField(inferred.fields),
    fields: inferred.fields,
  }
  return { name, source, spec, skipped: inferred.skipped }
}
