import type { ImplementableObjectRef } from '@pothos/core'
import type { Document } from 'mongodb'
import type { GraphQLResolveInfo } from 'graphql'
import { eventLoaders } from './events.js'
import type { EnumField, Model, ModelRegistry, ObjectField, ResolvedField } from '../../models/index.js'
import type { Builder, Types } from '../builder.js'
import type { GraphQLContext } from '../context.js'
import { idString } from '../../mongo/ids.js'
import { outputValue } from './values.js'

/** The GraphQL output and enum types of every configured model. */
export type DocumentRef = ImplementableObjectRef<Types, Document>

export interface ModelTypes {
  readonly objects: ReadonlyMap<string, DocumentRef>
  readonly enums: ReadonlyMap<string, unknown>
  /** The object type of a model (or a nested object), by type name. */
  object(typeName: string): DocumentRef
  /** The enum type of an enum field, by type name. */
  enumOf(field: EnumField): never
}

const SCALAR_TYPES = { String: 'String', Int: 'Int', Float: 'Float', Boolean: 'Boolean', ID: 'ID', ObjectId: 'ID', DateTime: 'DateTime', JSON: 'JSON' } as const

export function addModelTypes(builder: Builder, registry: ModelRegistry): ModelTypes {
  const objects = new Map<string, DocumentRef>()
  const enums = new Map<string, unknown>()
  const types: ModelTypes = {
    objects,
    enums,
    object: (name) => objects.get(name)!,
    enumOf: (field) => enums.get(field.typeName) as never,
  }
  for (const model of registry.models) {
    objects.set(model.names.type, builder.objectRef<Document>(model.names.type))
    declareNested(builder, model.fields, objects, enums)
  }
  for (const model of registry.models) implementModel(builder, model, registry, types)
  return types
}

function declareNested(builder: Builder, fields: readonly ResolvedField[], objects: Map<string, DocumentRef>, enums: Map<string, unknown>) {
  for (const field of fields) {
    if (field.kind === 'enum' && !enums.has(field.typeName)) {
      enums.set(
        field.typeName,
        builder.enumType(field.typeName, {
          description: `Values of \`${field.path}\`${field.description ? `: ${field.description}` : ''}`,
          values: Object.fromEntries(
            field.values.map((v) => [v.name, { value: v.name, description: `Stored as ${JSON.stringify(v.stored)}` }]),
          ) as Record<string, { value: string }>,
        }),
      )
    }
    if (field.kind === 'object' && !objects.has(field.typeName)) {
      objects.set(field.typeName, builder.objectRef<Document>(field.typeName))
      declareNested(builder, field.fields, objects, enums)
    }
  }
}

/** `type: …, nullable: …` of a field, for Pothos. */
export function outputTypeOf(field: ResolvedField, types: ModelTypes): { type: never; nullable: never } {
  const base = field.kind === 'scalar' ? SCALAR_TYPES[field.scalar] : field.kind === 'enum' ? types.enumOf(field) : types.object(field.typeName)
  return field.list
    ? { type: [base] as never, nullable: { list: !field.required, items: !field.itemRequired } as never }
    : { type: base as never, nullable: !field.required as never }
}

function describe(field: ResolvedField): string {
  const stored = field.kind === 'scalar' && field.scalar === 'ObjectId' ? ' (an ObjectId, as 24-hex)' : ''
  return field.description ?? `The document's \`${field.path}\`${stored}`
}

function fieldsOf(builder: Builder, fields: readonly ResolvedField[], types: ModelTypes) {
  return Object.fromEntries(
    fields.map((field) => [
      field.name,
      { ...outputTypeOf(field, types), description: describe(field), resolve: (doc: Document) => outputValue(field, doc[field.name]) },
    ]),
  )
}

function implementModel(builder: Builder, model: Model, registry: ModelRegistry, types: ModelTypes) {
  const ref = types.object(model.names.type)
  const tenancy = model.tenantField === null ? 'Visible to every authenticated caller.' : `Visible only to the tenant named by \`${model.tenantField}\`.`
  ref.implement({
    description: `${model.description ?? `A document of the \`${model.collection}\` collection.`} ${tenancy}`.trim(),
    fields: (t) => {
      const own = fieldsOf(builder, model.fields, types)
      const out: Record<string, unknown> = {
        id: t.field({
          type: 'ID',
          description: `The document's \`_id\`${model.idType === 'ObjectId' ? ' as a 24-hex ObjectId' : ''}`,
          resolve: (doc: Document) => idString(doc._id),
        }),
      }
      for (const [name, config] of Object.entries(own)) out[name] = t.field(config as never)
      for (const relation of model.relations) {
        const target = registry.byName(relation.model)!
        out[relation.name] = t.field({
          type: types.object(target.names.type),
          nullable: true,
          description: `The ${target.names.type} whose id is \`${relation.field.name}\` (same tenant; null when there is none). One batched lookup per event however many subscribers select it`,
          resolve: (doc: Document, _args: unknown, ctx: GraphQLContext, info: GraphQLResolveInfo) => {
            const id = doc[relation.field.name] as unknown
            if (id === null || id === undefined) return null
            return (eventLoaders(info.rootValue, ctx) ?? ctx.loaders).get(target).load(idString(id))
          },
        })
      }
      return out as never
    },
  })
  for (const field of model.fields) implementNested(builder, field, types)
}

function implementNested(builder: Builder, field: ResolvedField, types: ModelTypes, done = new Set<string>()) {
  if (field.kind !== 'object' || done.has(field.typeName)) return
  done.add(field.typeName)
  const object: ObjectField = field
  types.object(object.typeName).implement({
    description: object.description ?? `The nested object at \`${object.path}\``,
    fields: (t) => {
      const out: Record<string, unknown> = {}
      for (const [name, config] of Object.entries(fieldsOf(builder, object.fields, types))) out[name] = t.field(config as never)
      return out as never
    },
  })
  for (const child of object.fields) implementNested(builder, child, types, done)
}

